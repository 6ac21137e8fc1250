"""The outbox, read-only: notifications with their status and a "resend" for failed ones
(``notifications_resend``; a sent row is never sent again from here), and the members' push
subscriptions, which come and go with their choices and the push services' answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from csp.decorators import csp_update
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from loyalty.admin.base import (
    ModelT,
    ReadOnlyScopedAdmin,
    member_search,
)
from loyalty.backoffice.scope import is_superuser
from notifications.admin.templates import EMAIL_PREVIEW_POLICY
from notifications.models import (
    HTML_PARTS,
    PARTS,
    Channel,
    Notification,
    PushSubscription,
)
from notifications.services.outbox import notifications_resend


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
