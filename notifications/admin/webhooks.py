"""The merchant's webhook endpoints and their delivery log.

Its managers add, change, delete endpoints and rotate their signing secrets
(``notifications.services.webhook_endpoints``, which checks the role and audits); every role
sees their URL and events. A secret is shown once, to the manager who made the endpoint or
rotated its secret, in a message; the page shows only its last characters. The delivery log
is read-only, with a "resend" for failed deliveries (``webhooks_resend``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from loyalty.admin.base import (
    ServiceSavedAdmin,
)
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from notifications.admin.outbox import OutboxLogAdmin
from notifications.models import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from notifications.services.webhook_endpoints import (
    webhook_endpoint_delete,
    webhook_endpoint_save,
    webhook_secret_hint,
    webhook_secret_rotate,
)
from notifications.services.webhook_test import WebhookTestResult, webhook_test_send
from notifications.services.webhooks import webhooks_resend


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        # At least one: the service refuses none, with its message next to this field.
        required=False,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("merchant", "url", "events", "active")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceSavedAdmin[WebhookEndpoint]):
    merchant_path = "merchant"
    owner_column = "merchant"
    form = WebhookEndpointForm
    list_display = ("url", "active", "subscribed", "created_at")
    list_filter = ("active",)
    list_select_related = ("merchant",)
    ordering = ("id",)
    readonly_fields = ("secret_hint", "created_at")
    actions = ("rotate_secret",)
    change_form_template = "notifications/admin/webhookendpoint_change_form.html"

    @admin.display(description=_("events"))
    def subscribed(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description=_("signing secret"))
    def secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return _(
            "ends in %(hint)s; shown in full only when the endpoint is added or its secret "
            "rotated (action on the list)"
        ) % {"hint": webhook_secret_hint(endpoint.secret)}

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        merchant = ("merchant",) if is_superuser(request) else ()
        shown = ("secret_hint", "created_at") if obj is not None else ()
        return (*merchant, "url", "events", "active", *shown)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: Any
    ) -> None:
        if not is_superuser(request):
            merchant_id = staff_merchant_id(request)
            if merchant_id is None or (change and obj.merchant_id != merchant_id):
                raise PermissionDenied
            obj.merchant_id = merchant_id
        webhook_endpoint_save(endpoint=obj, actor=request_user(request))
        if not change:
            self._show_secret_once(request, obj, obj.secret)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint=obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        # One by one, so each deletion is checked and audited.
        for endpoint in queryset:
            self.delete_model(request, endpoint)

    def _show_secret_once(
        self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str
    ) -> None:
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code>: <code>{}</code> — {}",
                _("The signing secret of"),
                endpoint.url,
                secret,
                _("copy it into your receiver now, it will not be shown again."),
            ),
            messages.SUCCESS,
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["rotate"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            secret = webhook_secret_rotate(endpoint=endpoint, actor=request_user(request))
            self.log_change(request, endpoint, "Signing secret rotated")
            self._show_secret_once(request, endpoint, secret)

    # "Send a test event": a button on the change page, for those who may change the endpoint.

    def get_urls(self) -> list[URLPattern]:
        send_test = path(
            "<int:pk>/test/",
            self.admin_site.admin_view(self.send_test_view),
            name="notifications_webhookendpoint_test",
        )
        return [send_test, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: WebhookEndpoint | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None and self._may_write(request, obj):
            context["send_test_url"] = reverse(
                "admin:notifications_webhookendpoint_test",
                args=[obj.pk],
                current_app=self.admin_site.name,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def send_test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: send the test event, then back to the change page with the answer shown."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint = get_object_or_404(self.get_queryset(request), pk=pk)  # another merchant: 404
        if not self._may_write(request, endpoint):
            raise PermissionDenied
        user = request_user(request)
        if user is None:
            raise PermissionDenied
        result = webhook_test_send(endpoint=endpoint, actor=user)
        self.message_user(request, _test_message(result), _test_level(result))
        return HttpResponseRedirect(
            reverse(
                "admin:notifications_webhookendpoint_change",
                args=[endpoint.pk],
                current_app=self.admin_site.name,
            )
        )

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self._may_write(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_write(request)

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> bool:
        return self._may_write(request, obj)


def _test_level(result: WebhookTestResult) -> int:
    return messages.SUCCESS if result.ok else messages.ERROR


def _test_message(result: WebhookTestResult) -> str:
    if result.status_code is None:
        return format_html(
            "{} <code>{}</code>", _("The test event did not reach the receiver:"), result.error
        )
    headline = (
        _("The receiver accepted the test event: HTTP %(code)s.")
        if result.ok
        else _("The receiver refused the test event: HTTP %(code)s.")
    ) % {"code": result.status_code}
    if not result.answer:
        return format_html("{} {}", headline, _("Its answer was empty."))
    return format_html("{} {} <code>{}</code>", headline, _("Its answer begins:"), result.answer)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OutboxLogAdmin[WebhookDelivery]):
    merchant_path = "endpoint__merchant"
    owner_column = "endpoint__merchant"
    show_full_result_count = False
    list_display = (
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_select_related = ("endpoint__merchant",)
    list_filter = ("status", "event", "last_status_code")
    date_hierarchy = "created_at"
    search_fields = ("dedupe_key",)
    search_help_text = _("The event and occasion, e.g. order_recorded:A-1001.")
    ordering = ("-id",)
    fields = (
        "endpoint",
        "event",
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "sent_at",
        "created_at",
        "payload",
    )

    @admin.action(description=_("Resend the selected failed deliveries"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        self._resend(
            request,
            queryset,
            resend=lambda rows: webhooks_resend(deliveries=rows),
            done=ngettext_lazy(
                "%(count)d delivery queued to be sent again.",
                "%(count)d deliveries queued to be sent again.",
                "count",
            ),
            only_failed=_("Only failed deliveries are resent; the others were left as they are."),
        )
