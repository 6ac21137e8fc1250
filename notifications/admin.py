"""The notifications backoffice: a merchant's templates with a live preview, and the outbox.

Invariants kept here:
- Scoped like every backoffice page (``MerchantScopedAdmin``): staff see, add
  and change only their merchant's templates and notifications.
- A template is checked on save (``NotificationTemplate.clean``: it compiles
  in the sandbox and uses only documented variables); a refusal is shown on
  the part that caused it, never stored.
- The outbox is read-only. "Resend" puts failed rows back in the queue
  (``notifications_resend``); a sent row is never sent again from here.
- Push subscriptions (members' browsers) are read-only: they come and go with
  the members' choices and the push services' answers.
- Webhook endpoints are the merchant's own: its managers add, change, delete
  them and rotate their signing secrets (``notifications.services.webhook_endpoints``,
  which checks the role and audits); every role sees their URL and events. A
  secret is shown once, to the manager who made the endpoint or rotated its
  secret, in a message; the page shows only its last characters. The delivery
  log is read-only, with a "resend" for failed deliveries (``webhooks_resend``).
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from loyalty.admin.base import (
    MerchantScopedAdmin,
    ModelT,
    ReadOnlyScopedAdmin,
    ServiceSavedAdmin,
    member_search,
)
from loyalty.audit import Action, audit_changes, audit_record
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.models import Merchant
from notifications import rendering
from notifications.defaults import default_parts
from notifications.errors import PreviewRateLimited
from notifications.forms import NotificationTemplateForm, variables_help
from notifications.models import (
    HTML_PARTS,
    PARTS,
    Channel,
    Event,
    Language,
    Notification,
    NotificationTemplate,
    PushSubscription,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    template_parts_check,
)
from notifications.services.outbox import notifications_resend
from notifications.services.preview import preview_rate_check
from notifications.services.templates import language_for, parts_render
from notifications.services.webhook_endpoints import (
    webhook_endpoint_delete,
    webhook_endpoint_save,
    webhook_secret_hint,
    webhook_secret_rotate,
)
from notifications.services.webhooks import webhooks_resend
from rewards.terms import terms_text


def preview_values(*, merchant_name: str, language: str) -> dict[str, Any]:
    """A sample member's context, with the coupon terms worded in ``language``."""
    values = rendering.sample_context()
    if merchant_name:
        values["merchant_name"] = merchant_name
    sample_terms = SimpleNamespace(
        kind="percent", value=Decimal(10), max_discount=None, min_order_amount=Decimal(50)
    )
    with translation.override(language):
        values["coupon_terms"] = terms_text(sample_terms, currency="EUR")
    return values


def template_preview(
    *, channel: str, language: str, parts: dict[str, str], merchant_name: str
) -> dict[str, Any]:
    """Each part rendered for a sample member, or the problems that keep it from rendering."""
    errors = template_parts_check(channel, parts)
    good = {name: ("" if name in errors else source) for name, source in parts.items()}
    rendered = parts_render(
        good,
        preview_values(merchant_name=merchant_name, language=language),
        channel=channel,
        language=language,
    )
    return {"parts": rendered, "errors": errors}


# An email's HTML body is shown in a sandboxed srcdoc frame, and such a frame lives under its
# page's Content-Security-Policy. An email's design is inline style attributes (and its
# pictures may be anywhere on the web), so the two pages that show one allow those, and
# only those: scripts stay refused (the frame's sandbox refuses them too).
EMAIL_PREVIEW_POLICY = {"style-src-attr": ["'unsafe-inline'"], "img-src": ["https:"]}


@admin.register(NotificationTemplate)
@method_decorator(csp_update(EMAIL_PREVIEW_POLICY), name="changeform_view")
class NotificationTemplateAdmin(MerchantScopedAdmin[NotificationTemplate]):
    merchant_path = "merchant"
    form = NotificationTemplateForm
    change_form_template = "notifications/admin/notificationtemplate_change_form.html"
    list_display = ("event", "channel", "language", "updated_at")
    list_filter = ("event", "channel", "language")
    list_select_related = ("merchant",)
    ordering = ("event", "channel", "language")

    owner_column = "merchant"

    def get_fieldsets(self, request: HttpRequest, obj: NotificationTemplate | None = None) -> Any:
        merchant = ("merchant",) if is_superuser(request) else ()
        return (
            (None, {"fields": (*merchant, "event", "channel", "language")}),
            (_("Variables"), {"fields": (), "description": variables_help()}),
            (
                _("Email"),
                {
                    "fields": PARTS[Channel.EMAIL],
                    "classes": ("channel-email",),
                    "description": _("Used when the channel is email."),
                },
            ),
            (
                _("Push"),
                {
                    "fields": PARTS[Channel.PUSH],
                    "classes": ("channel-push",),
                    "description": _("Used when the channel is push."),
                },
            ),
        )

    def get_form(
        self,
        request: HttpRequest,
        obj: NotificationTemplate | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[NotificationTemplate]]:
        form_class = super().get_form(request, obj, change, **kwargs)
        merchant_id = None if is_superuser(request) else staff_merchant_id(request)
        scoped: type[forms.ModelForm[NotificationTemplate]] = type(
            form_class.__name__, (form_class,), {"merchant_id": merchant_id}
        )
        return scoped

    def save_model(
        self, request: HttpRequest, obj: NotificationTemplate, form: Any, change: Any
    ) -> None:
        if not is_superuser(request):
            merchant_id = staff_merchant_id(request)
            if merchant_id is None or (change and obj.merchant_id != merchant_id):
                raise PermissionDenied
            obj.merchant_id = merchant_id
        fields = ("event", "channel", "language", *PARTS[Channel.EMAIL], *PARTS[Channel.PUSH])
        before: dict[str, Any] = {}
        if change:
            before = NotificationTemplate.objects.filter(pk=obj.pk).values(*fields).first() or {}
        super().save_model(request, obj, form, change)
        # In the admin's transaction: the template and its trail commit together.
        audit_record(
            merchant=obj.merchant_id,
            actor=request_user(request),
            action=Action.TEMPLATE_UPDATE if change else Action.TEMPLATE_CREATE,
            target=obj,
            changes=audit_changes(before, {name: getattr(obj, name) for name in fields}),
        )

    def delete_model(self, request: HttpRequest, obj: NotificationTemplate) -> None:
        audit_record(
            merchant=obj.merchant_id,
            actor=request_user(request),
            action=Action.TEMPLATE_DELETE,
            target=obj,
            changes={"event": obj.event, "channel": obj.channel, "language": obj.language},
        )
        super().delete_model(request, obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[NotificationTemplate]
    ) -> None:
        for template in queryset:
            self.delete_model(request, template)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """``?event=…&channel=…&language=…`` starts a new template from the shipped one."""
        initial = super().get_changeform_initial_data(request)
        event, channel = initial.get("event"), initial.get("channel")
        language = initial.get("language")
        if event in Event.values and channel in Channel.values and language in Language.values:
            initial.update(default_parts(event=event, channel=channel, language=language))
        return initial

    # Staff manage their own merchant's templates (deleting one brings the default back).

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or self._may_write(request)

    def has_delete_permission(
        self, request: HttpRequest, obj: NotificationTemplate | None = None
    ) -> bool:
        return is_superuser(request) or self._may_write(request, obj)

    # The preview: rendered on the page, then live from the preview URL as staff type.

    def get_urls(self) -> list[URLPattern]:
        preview = path(
            "preview/",
            self.admin_site.admin_view(self.preview_view),
            name="notifications_notificationtemplate_preview",
        )
        return [preview, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: NotificationTemplate | None = None,
    ) -> HttpResponse:
        form = context["adminform"].form
        values = {name: form[name].value() for name in ("event", "channel", "language")}
        channel = values["channel"] if values["channel"] in Channel.values else Channel.EMAIL
        language = language_for(str(values["language"] or ""))
        parts = {name: str(form[name].value() or "") for name in PARTS[Channel(channel)]}
        context.update(
            preview=template_preview(
                channel=channel,
                language=language,
                parts=parts,
                merchant_name=self._merchant_name(request, obj),
            ),
            preview_channel=channel,
            preview_url=reverse(
                "admin:notifications_notificationtemplate_preview",
                current_app=self.admin_site.name,
            ),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _merchant_name(self, request: HttpRequest, obj: NotificationTemplate | None) -> str:
        merchant_id = obj.merchant_id if obj is not None else staff_merchant_id(request)
        if merchant_id is None:
            return ""
        return Merchant.objects.filter(pk=merchant_id).values_list("name", flat=True).first() or ""

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """POST the form's fields; get each part rendered for a sample member (JSON).

        With ``load_default`` it answers the shipped template's sources instead. For staff
        who may write templates (a viewer has nothing to preview), a limited number of times
        per window: past it, 429 with the seconds to wait (``retry_after``).
        """
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        user = request_user(request)
        may_write = self.has_change_permission(request) or self.has_add_permission(request)
        if user is None or not may_write:
            raise PermissionDenied
        try:
            preview_rate_check(user_id=user.pk)
        except PreviewRateLimited as refusal:
            wait = refusal.retry_after
            response = JsonResponse(
                {"code": refusal.code, "detail": refusal.detail, "retry_after": wait},
                status=refusal.status,
            )
            response["Retry-After"] = str(wait)
            return response
        data = request.POST
        channel = data.get("channel", "")
        if channel not in Channel.values:
            channel = Channel.EMAIL
        language = language_for(data.get("language", ""))
        if data.get("load_default"):
            event = data.get("event", "")
            if event not in Event.values:
                return JsonResponse({"sources": {}})
            sources = default_parts(event=event, channel=channel, language=language)
            return JsonResponse({"sources": sources})
        parts = {name: data.get(name, "") for name in PARTS[Channel(channel)]}
        merchant_id = staff_merchant_id(request)
        if merchant_id is None and data.get("merchant", "").isdigit():
            merchant_id = int(data["merchant"])
        name: str | None = None
        if merchant_id is not None:
            name = Merchant.objects.filter(pk=merchant_id).values_list("name", flat=True).first()
        preview = template_preview(
            channel=channel, language=language, parts=parts, merchant_name=name or ""
        )
        return JsonResponse({"channel": channel, **preview})


# The outbox


class MemberRowsAdmin(ReadOnlyScopedAdmin[ModelT]):
    """Rows about one member each, written by the services: read-only, searched by member."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member_search(term, prefix="member__")), False


class OutboxLogAdmin(ReadOnlyScopedAdmin[ModelT]):
    """An outbox as a log (notifications, webhook deliveries): read-only; failed rows can be
    sent again by the staff allowed to write, through the outbox's own resend service."""

    actions: Any = ("resend",)

    @admin.display(description=_("error"))
    def error(self, row: Any) -> str:
        text = row.last_error
        return text if len(text) <= 80 else text[:79] + "…"

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or self._may_write(request)

    def _resend(
        self, request: HttpRequest, queryset: QuerySet[Any], *, resend: Any, done: Any,
        only_failed: Any,
    ) -> None:  # fmt: skip
        """``resend(queryset)`` returns how many rows were queued again; ``done`` is a lazy
        plural keyed on ``count``."""
        selected = queryset.count()
        count = resend(queryset)
        self.message_user(
            request, done % {"count": count}, messages.SUCCESS if count else messages.WARNING
        )
        if selected > count:
            self.message_user(request, only_failed, messages.WARNING)


@admin.register(Notification)
@method_decorator(csp_update(EMAIL_PREVIEW_POLICY), name="changeform_view")
class NotificationAdmin(OutboxLogAdmin[Notification], MemberRowsAdmin[Notification]):
    merchant_path = "member__program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = (
        "created_at",
        "member",
        "event",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_select_related = ("member",)
    list_filter = ("status", "event", "channel")
    date_hierarchy = "created_at"
    search_fields = ("member__external_id", "member__email", "member__name")
    search_help_text = _("A member: exact external id, whole e-mail address, or part of the name.")
    ordering = ("-id",)
    fields = (
        "member",
        "event",
        "channel",
        "language",
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "created_at",
        "message",
    )
    readonly_fields = ("message",)

    @admin.display(description=_("message"))
    def message(self, notification: Notification) -> SafeString:
        """What was rendered for the member: text as text, the HTML body in a sandboxed frame."""
        rows = []
        for name in PARTS.get(Channel(notification.channel), ()):
            value = notification.part(name)
            if name in HTML_PARTS and value:
                shown = format_html(
                    '<iframe sandbox srcdoc="{}" title="{}"></iframe>', value, _("HTML body")
                )
            else:
                shown = format_html("<pre>{}</pre>", value)
            rows.append((name, shown))
        # Styled by backoffice/admin.css (.message-part): no inline styles under the CSP.
        return format_html(
            '<div class="message-part">{}</div>',
            format_html_join("\n", "<p><strong>{}</strong></p>{}", rows),
        )

    @admin.action(description=_("Resend the selected failed notifications"), permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self._resend(
            request,
            queryset,
            resend=lambda rows: notifications_resend(notifications=rows),
            done=ngettext_lazy(
                "%(count)d notification queued to be sent again.",
                "%(count)d notifications queued to be sent again.",
                "count",
            ),
            only_failed=_(
                "Only failed notifications are resent; the others were left as they are."
            ),
        )


# Webhooks


@admin.register(PushSubscription)
class PushSubscriptionAdmin(MemberRowsAdmin[PushSubscription]):
    merchant_path = "member__program__merchant"
    list_display = (
        "member",
        "push_service",
        "user_agent",
        "created_at",
        "last_success_at",
        "failure_count",
    )
    list_select_related = ("member",)
    search_fields = ("member__external_id", "member__email", "member__name")
    search_help_text = _("A member: exact external id, whole e-mail address, or part of the name.")
    ordering = ("member", "-id")
    fields = (
        "member",
        "push_service",
        "user_agent",
        "created_at",
        "last_success_at",
        "failure_count",
    )
    readonly_fields = ("push_service",)

    @admin.display(description=_("push service"))
    def push_service(self, subscription: PushSubscription) -> str:
        # The endpoint itself is a capability to message the browser: not shown.
        return urlsplit(subscription.endpoint).hostname or ""


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
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

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self._may_write(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_write(request)

    def has_delete_permission(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> bool:
        return self._may_write(request, obj)


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
