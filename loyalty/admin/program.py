"""The program's page: its settings, reward thresholds and tiers, saved through the services
(``program_update``, ``thresholds_replace``, ``tiers_replace``) in the admin's one
transaction, so a refused threshold or tier undoes the settings too. The tier list beside it
is read-only and counts each tier's members.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from loyalty.admin import program_example
from loyalty.admin.base import (
    ReadOnlyScopedAdmin,
    ServiceSavedAdmin,
    copy_saved,
    saved_nothing,
)
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.builder.tiers import TierForm, TierFormSet
from loyalty.errors import LoyaltyError
from loyalty.forms import ProgramForm
from loyalty.models import Program, Tier
from loyalty.services.merchants import PROGRAM_FIELDS, program_update
from loyalty.services.tier_settings import tiers_replace
from rewards.services.thresholds import thresholds_replace


class TierInline(admin.StackedInline):
    """The program's tiers as cards, lowest first; saved as a whole by ``tiers_replace``."""

    model = Tier
    form = TierForm
    formset = TierFormSet
    template = "admin/loyalty/program/tier_cards.html"
    extra = 0
    ordering = ("min_points",)
    fields = ("name", "name_i18n", ("min_points", "window_days"),
              ("earn_multiplier", "min_rating"), "badge", "flags", "other_flags", "benefits",
              "benefits_i18n", "perk")  # fmt: skip
    verbose_name = _("tier")
    verbose_name_plural = _(
        "Tiers: reached by points earned within the window (and a rating, if set); lost only "
        "when the daily job finds the member below, after the program's grace days"
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) or staff_merchant_id(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)


@admin.register(Program)
class ProgramAdmin(ServiceSavedAdmin[Program]):
    """A program's settings and, below them, its reward thresholds (``ProgramForm``)."""

    merchant_path = "merchant"
    form = ProgramForm
    change_form_template = "admin/rewards/program_change_form.html"
    service_error_fields = {"currency_locked": "currency"}
    list_display = ("name", "merchant", "currency", "earn_rate", "points_validity_days")
    list_select_related = ("merchant",)
    readonly_fields = ("shop", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("shop", "name")}),
        (
            _("Earning"),
            {
                "fields": (
                    "currency",
                    "earn_rate",
                    "earn_on_discount",
                    "earn_on_shipping",
                    "earn_on_tax",
                    "earn_on_gift_card",
                    "pending_days",
                )
            },
        ),
        (
            _("Validity and reminders"),
            {
                "fields": (
                    "points_validity_days",
                    "reset_validity_on_order",
                    "reminder_offsets_days",
                )
            },
        ),
        (_("Rewards"), {"fields": ("conversion_mode", "refund_after_conversion")}),
        (
            _("Time zone and transfers"),
            {
                "fields": (
                    "time_zone",
                    "transfers_enabled",
                    "transfer_min_points",
                    "transfer_monthly_limit",
                )
            },
        ),
        (_("Tiers"), {"fields": ("tier_grace_days", "tier_notice_days")}),
        (
            _("Backoffice"),
            {
                "fields": (
                    "point_value",
                    "support_grant_limit",
                    "grant_confirmation_points",
                    "support_coupon_max_amount",
                    "support_coupon_max_percent",
                    "support_coupon_max_days",
                    "support_daily_member_limit",
                    "support_job_limit",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = (TierInline,)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        if formset.model is not Tier:
            super().save_formset(request, form, formset, change)
            return
        saved_nothing(formset)
        if not formset.is_bound or not formset.has_changed():
            return
        rows = [row.payload() for row in formset.kept_forms()]
        # In the admin's transaction: a refused tier undoes the settings too.
        tiers_replace(program=form.instance, tiers=rows, actor=request_user(request))

    def get_urls(self) -> list[URLPattern]:
        example = path(
            "<path:object_id>/example/",
            self.admin_site.admin_view(self.example_view),
            name="loyalty_program_example",
        )
        return [example, *super().get_urls()]

    @method_decorator(require_GET)
    def example_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return program_example.example_view(self, request, object_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The live example's address, for the page's script.
        url = reverse("admin:loyalty_program_example", args=[object_id])
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "example_url": url}
        )

    @admin.display(description=_("merchant"))
    def shop(self, program: Program) -> str:
        # Plain text, not the usual link: merchant pages are for superusers only.
        return str(program.merchant)

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: Any) -> None:
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in PROGRAM_FIELDS
        }
        if changes:
            copy_saved(obj, program_update(program=obj, actor=request_user(request), **changes))
        if isinstance(form, ProgramForm) and form.thresholds_changed():
            # In the admin's transaction: a refused threshold undoes the settings too.
            thresholds_replace(
                program=obj, thresholds=form.thresholds_payload(), actor=request_user(request)
            )

    def show_refusal(self, form: forms.ModelForm[Program], refusal: LoyaltyError) -> None:
        if isinstance(form, ProgramForm):
            form.add_service_error(refusal, self.service_error_fields)
        else:
            super().show_refusal(form, refusal)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A program comes with its merchant (``merchant_create``).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Program | None = None) -> bool:
        return False


@admin.register(Tier)
class TierAdmin(ReadOnlyScopedAdmin[Tier]):
    """Tiers with how many members hold each (edited on their program's page)."""

    merchant_path = "program__merchant"
    owner_column = "program"
    list_display = ("name", "min_points", "window_days", "min_rating", "earn_multiplier",
                    "member_count")  # fmt: skip
    ordering = ("program", "min_points")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return (
            super()
            .get_queryset(request)
            .select_related("program")
            .annotate(holders=Count("members"))
        )

    @admin.display(description=_("members"), ordering="holders")
    def member_count(self, tier: Tier) -> str:
        url = reverse("admin:loyalty_member_changelist", current_app=self.admin_site.name)
        return format_html('<a href="{}?tier={}">{}</a>', url, tier.pk, tier.holders)  # type: ignore[attr-defined]
