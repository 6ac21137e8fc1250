"""Members in the admin: the list (search, tier and activity filters) and a member's page.

A member's balance, tier and history are never edited here: the profile is saved through
``member_upsert`` (its changed columns only, role-checked and audited), points move through
``points_grant``, tiers through ``tier_override``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Count, Field, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import (
    OptionalInlineFormSet,
    ReadOnlyInline,
    ServiceSavedAdmin,
    copy_saved,
    member_search,
    saved_nothing,
)
from loyalty.admin.member_actions import COUPONS_SHOWN, MemberActionsMixin
from loyalty.admin.member_points import MemberPointsMixin
from loyalty.backoffice.filters import MEMBER_FILTERS
from loyalty.backoffice.formats import day_shown, grouped
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.models import Member, Tier, TierChange
from loyalty.roles import Permission, role_allows
from loyalty.services.members import member_upsert
from notifications.models import Notification
from rewards.models import Coupon
from rewards.terms import terms_text

PROFILE_FIELDS = ("email", "name", "locale", "consent_email", "consent_push", "birth_date")


def locale_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The languages the program speaks, and a member's other code (an old row's) so the page
    shows it rather than the first choice a save would write unasked."""
    choices = [(code, str(name)) for code, name in settings.LANGUAGES]
    if current and current not in dict(choices):
        choices.append((current, current))
    return choices


class TierListFilter(admin.SimpleListFilter):
    """Members per tier, with how many hold each (one grouped query)."""

    title = _("tier")
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        tiers = Tier.objects.select_related("program").order_by("program_id", "min_points")
        if not is_superuser(request):
            tiers = tiers.filter(program__merchant_id=staff_merchant_id(request) or 0)
        counts = dict(
            Member.objects.filter(tier__in=tiers)
            .values("tier")
            .annotate(n=Count("id"))
            .values_list("tier", "n")
        )
        if not counts and not tiers:
            return []  # no tiers: Django leaves the filter out
        return [("none", str(_("no tier")))] + [
            (str(t.pk), f"{t.name} ({counts.get(t.pk, 0)})") for t in tiers
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "none":
            return queryset.filter(tier__isnull=True)
        if value and value.isdigit():
            return queryset.filter(tier_id=int(value))
        return queryset


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    formset = OptionalInlineFormSet
    fields = ("created_at", "kind", "from_name", "to_name", "reason", "until", "created_by")
    readonly_fields = fields
    ordering = ("-id",)
    show_change_link = False
    verbose_name = _("tier change")
    verbose_name_plural = _("tier history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TierChange]:
        return super().get_queryset(request).select_related("created_by")


@admin.register(Member)
class MemberAdmin(MemberPointsMixin, MemberActionsMixin, ServiceSavedAdmin[Member]):
    """A member's profile and tier, with its ledger and points form (``MemberPointsMixin``),
    its newest coupons and notifications, and the staff actions (``MemberActionsMixin``)."""

    merchant_path = "program__merchant"
    change_form_template = "admin/rewards/member_change_form.html"
    actions = ("issue_coupon", "override_tier")
    show_full_result_count = False  # one COUNT of a big table per page is enough
    # Chosen to fit 1,280 px beside the filters: name and e-mail in one column (cut with an
    # ellipsis, whole in the tooltip), dates without the time.
    list_display = (
        "external_id", "who", "balance_shown", "tier", "last_order", "expires",
    )  # fmt: skip
    list_select_related = ("program", "tier")
    write_permission = Permission.MEMBERS
    list_filter = (TierListFilter, *MEMBER_FILTERS, "consent_email", "consent_push", "locale")
    inlines = (TierChangeInline,)
    search_fields = ("external_id", "email", "name")
    search_help_text = _("Exact external id, a whole e-mail address, or part of the name.")
    ordering = ("-id",)
    readonly_fields = (
        "external_id",
        "program",
        "referred_by",
        "balance_shown",
        "pending_shown",
        "points_expire_at",
        "last_order_at",
        "login",
        "created_at",
        "updated_at",
        "tier",
        "tier_since",
        "rating",
        "tier_override_until",
        "tier_override_reason",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "external_id",
                    "program",
                    "balance_shown",
                    "pending_shown",
                    "points_expire_at",
                    "last_order_at",
                    "referred_by",
                )
            },
        ),
        (
            _("Tier"),
            {
                "fields": (
                    "tier",
                    "tier_since",
                    "rating",
                    "tier_override_until",
                    "tier_override_reason",
                ),
                "description": _(
                    "To put this member at another tier for a while, select it in the member "
                    "list and use the action 'Override the tier'."
                ),
            },
        ),
        (_("Profile"), {"fields": PROFILE_FIELDS}),
        (_("Record"), {"fields": ("login", "created_at", "updated_at")}),
    )

    @admin.display(description=_("balance"), ordering="balance")
    def balance_shown(self, member: Member) -> str:
        # Grouped like the points form's messages and the ledger: 99,000,250.
        return grouped(member.balance)

    @admin.display(description=_("name and e-mail"), ordering="name")
    def who(self, member: Member) -> str:
        return format_html(
            '<span class="who-name" title="{}">{}</span>'
            '<span class="who-email" title="{}">{}</span>',
            member.name, member.name or "—", member.email, member.email,
        )  # fmt: skip

    @admin.display(description=_("last order"), ordering="last_order_at")
    def last_order(self, member: Member) -> str:
        return day_shown(member.last_order_at)

    @admin.display(description=_("points expire"), ordering="points_expire_at")
    def expires(self, member: Member) -> str:
        return day_shown(member.points_expire_at)

    @admin.display(description=_("pending"))
    def pending_shown(self, member: Member) -> str:
        return grouped(member.pending)

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "locale":
            return forms.ChoiceField(
                choices=locale_choices(), label=_("Language"), help_text=db_field.help_text
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Member | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        locale = form_class.base_fields.get("locale")
        if obj is not None and isinstance(locale, forms.ChoiceField):
            locale.choices = locale_choices(obj.locale)
        return form_class

    @admin.display(description=_("login"))
    def login(self, member: Member) -> str:
        return member.user.get_username() if member.user_id and member.user else "—"

    owner_column = "program"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Member], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member_search(term)), False

    def get_readonly_fields(self, request: HttpRequest, obj: Member | None = None) -> Any:
        # The email address is the key to the member's profile page: a manager's to change.
        readonly = super().get_readonly_fields(request, obj)
        if role_allows(request_user(request), Permission.MANAGE):
            return readonly
        return (*readonly, "email")

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: Any) -> None:
        # Through the service, which writes the changed profile columns only (a save from
        # this page can never move the balance a concurrent order just changed), checks the
        # role and records the change. A read-only field is not in the form: ``obj`` holds
        # the member's value, as read for this page.
        member, _ = member_upsert(
            program=obj.program,
            external_id=obj.external_id,
            actor=request_user(request),
            **{name: form.cleaned_data.get(name, getattr(obj, name)) for name in PROFILE_FIELDS},
        )
        copy_saved(obj, member)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        # The tier history is read-only: written by the tier services only.
        saved_nothing(formset)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Members come from integrators (orders, the API).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Member | None = None) -> bool:
        return False

    # The change page: the points form and ledger (MemberPointsMixin), the newest coupons
    # and notifications, and the coupon form's URL (MemberActionsMixin).

    def get_urls(self) -> list[URLPattern]:
        points = path(
            "<path:object_id>/points/",
            self.admin_site.admin_view(self.points_view),
            name="loyalty_member_points",
        )
        coupon = path(
            "<path:object_id>/coupon/",
            self.admin_site.admin_view(self.coupon_view),
            name="loyalty_member_coupon",
        )
        return [points, coupon, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Member | None = None,
    ) -> HttpResponse:
        if obj is not None and change:
            context.update(self._points_context(request, obj))
            context.update(self._coupons_context(request, obj))
            context.update(self._notifications_context(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _coupons_context(self, request: HttpRequest, member: Member) -> dict[str, Any]:
        # One query: the newest coupons, and one more to tell whether there are others.
        rows = list(Coupon.objects.filter(member=member).order_by("-id")[: COUPONS_SHOWN + 1])
        changelist = reverse("admin:rewards_coupon_changelist", current_app=self.admin_site.name)
        context: dict[str, Any] = {
            "member_coupons": [
                (coupon, terms_text(coupon, currency=coupon.currency))
                for coupon in rows[:COUPONS_SHOWN]
            ],
            "member_coupons_more": len(rows) > COUPONS_SHOWN,
            "member_coupons_url": f"{changelist}?member__id__exact={member.pk}",
        }
        if self.has_change_permission(request, member):
            context["member_coupon_url"] = reverse(
                "admin:loyalty_member_coupon",
                args=[quote(member.pk)],
                current_app=self.admin_site.name,
            )
        return context

    def _notifications_context(self, member: Member) -> dict[str, Any]:
        # One query: the newest notifications sent (or queued) to the member, with status.
        rows = list(
            Notification.objects.filter(member=member)
            .order_by("-id")
            .only("id", "event", "channel", "status", "attempts", "sent_at", "created_at",
                  "last_error", "member_id")[: COUPONS_SHOWN + 1]
        )  # fmt: skip
        outbox = reverse("admin:notifications_notification_changelist")
        return {
            "member_notifications": rows[:COUPONS_SHOWN],
            "member_notifications_more": len(rows) > COUPONS_SHOWN,
            "member_notifications_url": f"{outbox}?member__id__exact={member.pk}",
        }
