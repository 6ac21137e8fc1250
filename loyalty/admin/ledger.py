"""Read-only history: the ledger, orders and refunds, written by the services alone.

Searches are equalities on indexed columns (an exact external id, a whole e-mail address)
or a name part, so a big merchant's lists stay fast; no list counts its whole table.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import ReadOnlyInline, ReadOnlyScopedAdmin, member_search
from loyalty.backoffice.formats import grouped, money_shown
from loyalty.models import LedgerEntry, Order, Refund


@admin.display(description=_("by"))
def staff_name(entry: LedgerEntry) -> str:
    """Who made a manual entry (a username, not a link: staff cannot open user pages)."""
    return entry.created_by.get_username() if entry.created_by else ""


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyScopedAdmin[LedgerEntry]):
    merchant_path = "program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = (
        "created_at", "member_shown", "kind", "points_shown", "balance_shown", "reason", staff_name,
    )  # fmt: skip
    list_select_related = ("member", "created_by")
    list_filter = ("kind",)
    date_hierarchy = "created_at"
    search_fields = ("member__external_id", "member__email", "member__name")
    search_help_text = _("A member: exact external id, whole e-mail address, or part of the name.")
    ordering = ("-id",)
    readonly_fields = ("by",)
    fields = (
        "member",
        "kind",
        "points",
        "balance_after",
        "reason",
        "order",
        "refund",
        "by",
        "details",
        "idempotency_key",
        "created_at",
    )

    @admin.display(description=_("member"))
    def member_shown(self, entry: LedgerEntry) -> str:
        # The external id, the name in its tooltip: a column of long names pushed the
        # list's right-hand columns out of sight.
        member = entry.member
        return format_html('<span title="{}">{}</span>', member.name, member.external_id)

    @admin.display(description=_("points"), ordering="points")
    def points_shown(self, entry: LedgerEntry) -> str:
        return f"+{grouped(entry.points)}" if entry.points > 0 else grouped(entry.points)

    @admin.display(description=_("balance after"))
    def balance_shown(self, entry: LedgerEntry) -> str:
        return grouped(entry.balance_after)

    @admin.display(description=_("by"))
    def by(self, entry: LedgerEntry) -> str:
        return staff_name(entry)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[LedgerEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(member_search(term, prefix="member__")), False


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("external_id", "amount", "points_reversed", "balance_after", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        # Each row's title (its __str__) names the order.
        return super().get_queryset(request).select_related("order")


class OrderLedgerInline(ReadOnlyInline):
    model = LedgerEntry
    verbose_name_plural = _("ledger entries")
    fields = ("created_at", "kind", "points", "balance_after", "reason", "by")
    readonly_fields = ("by",)
    ordering = ("-id",)

    @admin.display(description=_("by"))
    def by(self, entry: LedgerEntry) -> str:
        return staff_name(entry)

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        # Each row's title (its __str__) names the member; "by" names the staff user.
        return super().get_queryset(request).select_related("member", "created_by")


@admin.register(Order)
class OrderAdmin(ReadOnlyScopedAdmin[Order]):
    merchant_path = "program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    # Chosen to fit 1,280 px beside the filters: amounts with their currency, the member's
    # external id (the name in its tooltip), points grouped.
    list_display = (
        "external_id",
        "member_shown",
        "amount_shown",
        "status",
        "points_shown",
        "refunded_shown",
        "placed_at",
    )
    list_select_related = ("member",)
    list_filter = ("status", "placed_at", "currency")
    date_hierarchy = "placed_at"
    search_fields = ("external_id",)
    search_help_text = _("Exact order external id.")
    ordering = ("-id",)
    inlines = (RefundInline, OrderLedgerInline)
    fields = (
        "external_id",
        "member",
        "placed_at",
        "status",
        "amount",
        "currency",
        "discount",
        "shipping",
        "tax",
        "paid_with_gift_card",
        "points_base",
        "earn_rate",
        "points_earned",
        "balance_after",
        "refunded_amount",
        "points_reversed",
        "created_at",
    )

    @admin.display(description=_("member"), ordering="member__external_id")
    def member_shown(self, order: Order) -> str:
        member = order.member
        return format_html('<span title="{}">{}</span>', member.name, member.external_id)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_shown(self, order: Order) -> str:
        return money_shown(order.amount, order.currency)

    @admin.display(description=_("refunded"), ordering="refunded_amount")
    def refunded_shown(self, order: Order) -> str:
        return money_shown(order.refunded_amount, order.currency) if order.refunded_amount else "—"

    @admin.display(description=_("points earned"), ordering="points_earned")
    def points_shown(self, order: Order) -> str:
        return grouped(order.points_earned)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        term = search_term.strip()
        return (queryset.filter(external_id=term) if term else queryset), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyScopedAdmin[Refund]):
    merchant_path = "order__program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = ("external_id", "order", "amount", "points_reversed", "created_at")
    list_select_related = ("order",)
    list_filter = ("created_at", "order__currency")
    search_fields = ("external_id", "order__external_id")
    search_help_text = _("Exact refund or order external id.")
    ordering = ("-id",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(external_id=term) | Q(order__external_id=term)), False
