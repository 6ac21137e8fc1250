"""Coupons: read-only, found by code or member, with their history and redemptions; voided
(``coupon_void_mixin``) and issued from a CSV (``coupon_issue``) through the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.db.models.fields.related import RelatedField
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import MerchantScopedAdmin, ReadOnlyInline
from loyalty.backoffice.formats import day_shown
from loyalty.backoffice.scope import is_superuser, staff_merchant_id
from loyalty.models import Member
from rewards.admin.coupon_issue import CouponIssueMixin
from rewards.admin.coupon_void import CouponVoidMixin
from rewards.codes import code_normalise
from rewards.models import Coupon, CouponEvent, Redemption
from rewards.terms import terms_text


@dataclass(frozen=True)
class _Headline:
    """A coupon's terms without their conditions: what the list shows ("10% off")."""

    kind: str
    value: Decimal
    max_discount: Decimal | None = None
    min_order_amount: Decimal = Decimal(0)
    # A free product's headline names the product; a scope is a condition (the tooltip's).
    product_sku: str = ""
    product_category: str = ""
    product_quantity: int = 1
    scope: dict[str, Any] = field(default_factory=dict)


class TemplateFilter(admin.RelatedFieldListFilter):
    """The templates the user may see: another merchant's template names never appear."""

    def field_choices(
        self, field: RelatedField[Any, Any], request: HttpRequest, model_admin: Any
    ) -> Any:
        if is_superuser(request):
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to={"program__merchant_id": staff_merchant_id(request)},
        )


class CouponEventInline(ReadOnlyInline):
    model = CouponEvent
    verbose_name = _("history entry")
    verbose_name_plural = _("history")
    show_change_link = False
    fields = ("created_at", "kind", "by", "reason", "order_reference")
    readonly_fields = ("by",)
    ordering = ("id",)

    @admin.display(description=_("by"))
    def by(self, event: CouponEvent) -> str:
        # A username, not a link: staff cannot open user pages.
        return event.by.get_username() if event.by else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponEvent]:
        # Each row's title (its __str__) names the coupon.
        return super().get_queryset(request).select_related("coupon", "by")


class RedemptionInline(ReadOnlyInline):
    model = Redemption
    show_change_link = False
    fields = ("order_reference", "order_amount", "discount", "redeemed_at", "released_at")
    ordering = ("id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Redemption]:
        return super().get_queryset(request).select_related("coupon")


@admin.register(Coupon)
class CouponAdmin(CouponVoidMixin, CouponIssueMixin, MerchantScopedAdmin[Coupon]):
    """Read-only: coupons are issued, redeemed and voided by the services."""

    merchant_path = "program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    # Chosen to fit 1,280 px beside the filters: the discount alone (the conditions on the
    # coupon's page), the last day without the time; the source and the day of issue are
    # filters, and on the coupon's page.
    list_display = (
        "code_shown",
        "member_shown",
        "terms_short",
        "status",
        "uses",
        "valid_until_day",
    )
    list_select_related = ("member",)
    list_filter = (
        "status",
        ("template", TemplateFilter),
        "source",
        "created_at",
        "valid_until",
    )
    search_fields = ("code",)
    search_help_text = _(
        "A coupon code, in any case, with or without dashes; or a member's exact external id."
    )
    ordering = ("-id",)
    actions = ("void",)
    inlines = (CouponEventInline, RedemptionInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code_shown",
                    "status",
                    "member",
                    "source",
                    "reason",
                    "issued_by_name",
                    "created_at",
                )
            },
        ),
        (
            _("Terms"),
            {
                "fields": (
                    "terms",
                    "template",
                    "valid_from",
                    "valid_until",
                    "uses",
                    "currency",
                )
            },
        ),
        (_("Reward"), {"fields": ("points_spent", "order")}),
    )
    readonly_fields = ("code_shown", "member_shown", "terms", "uses", "issued_by_name")

    @admin.display(description=_("code"), ordering="code")
    def code_shown(self, coupon: Coupon) -> str:
        return coupon.display_code

    @admin.display(description=_("member"), ordering="member__external_id")
    def member_shown(self, coupon: Coupon) -> str:
        member = coupon.member
        if member is None:
            return "—"
        url = reverse("admin:loyalty_member_change", args=[member.pk])
        # The external id in the column, the name in its tooltip: a name can be long.
        return format_html('<a href="{}" title="{}">{}</a>', url, member.name, member.external_id)

    @admin.display(description=_("terms"))
    def terms(self, coupon: Coupon) -> str:
        return terms_text(coupon, currency=coupon.currency)

    @admin.display(description=_("terms"))
    def terms_short(self, coupon: Coupon) -> str:
        """The discount alone, on one line; the conditions in its tooltip and, whole, on the
        coupon's page (a column of full terms wrapped one word a line)."""
        full = terms_text(coupon, currency=coupon.currency, localized=True)
        headline = _Headline(
            coupon.kind,
            coupon.value,
            product_sku=coupon.product_sku,
            product_category=coupon.product_category,
            product_quantity=coupon.product_quantity,
        )
        short = terms_text(headline, currency=coupon.currency, localized=True)
        if short == full:
            return short
        return format_html('<span class="terms-short" title="{}">{} …</span>', full, short)

    @admin.display(description=_("valid until"), ordering="valid_until")
    def valid_until_day(self, coupon: Coupon) -> str:
        return day_shown(coupon.valid_until)

    @admin.display(description=_("uses"))
    def uses(self, coupon: Coupon) -> str:
        return f"{coupon.uses_count} / {coupon.uses_allowed}"

    @admin.display(description=_("issued by"))
    def issued_by_name(self, coupon: Coupon) -> str:
        # A username, not a link: staff cannot open user pages.
        return coupon.issued_by.get_username() if coupon.issued_by else ""

    owner_column = "program"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Coupon], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # An equality on the unique code, or on the (member, status) index: no scan.
        members = Member.objects.filter(external_id=term).values("pk")
        return queryset.filter(Q(code=code_normalise(term)) | Q(member__in=members)), False

    # Coupons are written by the services only.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Coupon | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Coupon | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "issue_csv_url": reverse("admin:rewards_coupon_issue_csv")
            if self.has_issue_permission(request)
            else None,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)
