"""A merchant's notification templates, per event, channel and language, with a live preview.

A template is checked on save (``NotificationTemplate.clean``: it compiles in the sandbox and
uses only documented variables); a refusal is shown on the part that caused it, never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import (
    MerchantScopedAdmin,
)
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.errors import InvalidInput
from loyalty.models import Merchant
from notifications import rendering
from notifications.defaults import default_parts
from notifications.email_blocks import blocks_bodies, shipped_blocks
from notifications.errors import PreviewRateLimited
from notifications.forms import (
    BLOCK_FIELDS,
    NotificationTemplateForm,
    merchant_colour,
    variables_help,
)
from notifications.models import (
    PARTS,
    Channel,
    Event,
    Language,
    NotificationTemplate,
    template_parts_check,
)
from notifications.selectors import sent_texts, template_catalogue
from notifications.services.preview import preview_rate_check
from notifications.services.templates import (
    language_for,
    notification_switch,
    parts_render,
    template_delete,
    template_save,
)
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


def _parts(value: Callable[[str], str], *, channel: str, merchant_id: int | None) -> dict[str, str]:
    """A channel's parts as typed; an email written as blocks gets the bodies they make."""
    parts = {name: value(name) for name in PARTS[Channel(channel)]}
    if channel == Channel.EMAIL and value("html_mode") == "blocks":
        parts.update(
            blocks_bodies(
                event=value("event"),
                language=language_for(value("language")),
                subject=parts["subject"],
                colour=merchant_colour(merchant_id),
                **{name: value(name) for name in BLOCK_FIELDS},
            )
        )
    return parts


# An email's HTML body is shown in a sandboxed srcdoc frame, and such a frame lives under its
# page's Content-Security-Policy. An email's design is inline style attributes (and its
# pictures may be anywhere on the web), so the two pages that show one allow those, and
# only those: scripts stay refused (the frame's sandbox refuses them too).
EMAIL_PREVIEW_POLICY = {"style-src-attr": ["'unsafe-inline'"], "img-src": ["https:"]}


@admin.register(NotificationTemplate)
@method_decorator(csp_update(EMAIL_PREVIEW_POLICY), name="changeform_view")
@method_decorator(csp_update(EMAIL_PREVIEW_POLICY), name="shipped_view")
class NotificationTemplateAdmin(MerchantScopedAdmin[NotificationTemplate]):
    merchant_path = "merchant"
    form = NotificationTemplateForm
    change_form_template = "notifications/admin/notificationtemplate_change_form.html"
    change_list_template = "notifications/admin/notificationtemplate_change_list.html"
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
                    "fields": ("html_mode", "subject"),
                    "classes": ("channel-email",),
                    "description": _("Used when the channel is email."),
                },
            ),
            (
                _("Email: text blocks"),
                {
                    "fields": BLOCK_FIELDS,
                    "classes": ("channel-email", "email-blocks"),
                    "description": _(
                        "The email is made from these, in the layout of the shipped emails "
                        "with the button in your brand colour."
                    ),
                },
            ),
            (
                _("Email: text and HTML bodies (advanced)"),
                {
                    "fields": ("body_text", "body_html"),
                    "classes": ("channel-email", "email-raw"),
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
        # The role check and the audit trail are the service's (in the admin's transaction).
        template_save(template=obj, actor=request_user(request))

    def delete_model(self, request: HttpRequest, obj: NotificationTemplate) -> None:
        template_delete(template=obj, actor=request_user(request))

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
            if channel == Channel.EMAIL:
                # Started as blocks: the words to change, in the shipped layout.
                initial.update(shipped_blocks(event=event, language=language), html_mode="blocks")
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
        shipped = path(
            "shipped/<str:event>/<str:channel>/<str:language>/",
            self.admin_site.admin_view(self.shipped_view),
            name="notifications_notificationtemplate_shipped",
        )
        switch = path(
            "switch/<str:event>/<str:channel>/",
            self.admin_site.admin_view(self.switch_view),
            name="notifications_notificationtemplate_switch",
        )
        return [preview, shipped, switch, *super().get_urls()]

    def switch_view(self, request: HttpRequest, event: str, channel: str) -> HttpResponse:
        """POST ``on=1`` / ``on=0``: switch the event on or off on that channel for the staff
        member's merchant (the service checks the role and audits)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        merchant_id = staff_merchant_id(request)
        if merchant_id is None or not self.has_add_permission(request):
            raise PermissionDenied
        on = request.POST.get("on") == "1"
        try:
            notification_switch(
                merchant_id=merchant_id,
                event=event,
                channel=channel,
                on=on,
                actor=request_user(request),
            )
        except InvalidInput as refusal:
            problems = [str(message) for found in refusal.fields.values() for message in found]
            self.message_user(request, " ".join(problems), messages.ERROR)
        else:
            label = f"{Event(event).label} · {Channel(channel).label}"
            done = (
                _("Switched on again: %(what)s.")
                if on
                else _("Switched off: %(what)s. Members are not sent it.")
            )
            self.message_user(request, done % {"what": label}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:notifications_notificationtemplate_changelist"))

    # The list: first every text customers get (shipped or the merchant's own), then the
    # merchant's own texts as Django lists them.

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "catalogue": template_catalogue(merchant_id=staff_merchant_id(request)),
            "languages": Language.choices,
            "may_write": self.has_add_permission(request),
            "may_switch": staff_merchant_id(request) is not None
            and self.has_add_permission(request),
            "title": _("Notification texts"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def shipped_view(self, request: HttpRequest, event: str, channel: str, language: str) -> Any:
        """A shipped text rendered for a sample member, with the way to make it one's own."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if (event, channel) not in sent_texts() or language not in Language.values:
            raise Http404
        parts = default_parts(event=event, channel=channel, language=language)
        merchant_id = staff_merchant_id(request)
        own = (
            NotificationTemplate.objects.filter(
                merchant_id=merchant_id, event=event, channel=channel, language=language
            ).first()
            if merchant_id is not None
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Shipped text: %(event)s · %(channel)s · %(language)s")
            % {
                "event": Event(event).label,
                "channel": Channel(channel).label,
                "language": Language(language).label,
            },
            "opts": self.model._meta,
            "preview": template_preview(
                channel=channel,
                language=language,
                parts=parts,
                merchant_name=self._merchant_name(request, None),
            ),
            "preview_channel": channel,
            "own": own,
            "customise_url": f"{reverse('admin:notifications_notificationtemplate_add')}?"
            + urlencode({"event": event, "channel": channel, "language": language}),
            "may_write": self.has_add_permission(request),
        }
        return TemplateResponse(request, "notifications/admin/shipped_template.html", context)

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
        parts = _parts(
            lambda name: str(form[name].value() or ""),
            channel=channel,
            merchant_id=obj.merchant_id if obj is not None else staff_merchant_id(request),
        )
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
            if channel == Channel.EMAIL:
                sources = {**sources, **shipped_blocks(event=event, language=language)}
            return JsonResponse({"sources": sources})
        merchant_id = staff_merchant_id(request)
        if merchant_id is None and data.get("merchant", "").isdigit():
            merchant_id = int(data["merchant"])
        parts = _parts(lambda name: data.get(name, ""), channel=channel, merchant_id=merchant_id)
        name: str | None = None
        if merchant_id is not None:
            name = Merchant.objects.filter(pk=merchant_id).values_list("name", flat=True).first()
        preview = template_preview(
            channel=channel, language=language, parts=parts, merchant_name=name or ""
        )
        return JsonResponse({"channel": channel, **preview})
