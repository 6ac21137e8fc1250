"""List filters of the member list: balance ranges, points expiring within N days, last
order date, and tier when the build has tiers. Each is one indexable condition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.backoffice.params import int_param
from loyalty.models import Member

# Days typed in the address are clamped to a century: further is "always" for a member.
MAX_DAYS = 36500
# Balances typed in the address are clamped inside PostgreSQL's integer.
MAX_BALANCE = 2**31 - 1

BALANCE_RANGES: dict[str, tuple[int | None, int | None]] = {
    "0": (None, 0),
    "1-99": (1, 99),
    "100-999": (100, 999),
    "1000-9999": (1000, 9999),
    "10000+": (10000, None),
}


class BalanceFilter(admin.SimpleListFilter):
    title = _("balance")
    parameter_name = "balance_range"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [
            ("0", _("none")),
            ("1-99", "1–99"),
            ("100-999", "100–999"),
            ("1000-9999", "1,000–9,999"),
            ("10000+", _("10,000 or more")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Member]) -> QuerySet[Member]:
        value = self.value()
        if value is None:
            return queryset
        # Also "min-max" typed in the address: ?balance_range=250-400
        low: int | None
        high: int | None
        if value in BALANCE_RANGES:
            low, high = BALANCE_RANGES[value]
        else:
            parts = value.split("-")
            if len(parts) != 2 or not all(p.strip().isdecimal() for p in parts):
                return queryset
            low, high = (int_param(p, default=0, low=0, high=MAX_BALANCE) for p in parts)
        if low is not None:
            queryset = queryset.filter(balance__gte=low)
        if high is not None:
            queryset = queryset.filter(balance__lte=high)
        return queryset


class ExpiringWithinFilter(admin.SimpleListFilter):
    title = _("points expiring within")
    parameter_name = "expiring_within"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        # Any number of days works in the address: ?expiring_within=45
        return [(str(days), _("%(days)s days") % {"days": days}) for days in (7, 14, 30, 60, 90)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Member]) -> QuerySet[Member]:
        days = int_param(self.value(), default=-1, low=0, high=MAX_DAYS)
        if days < 0:
            return queryset
        now = timezone.now()
        return queryset.filter(
            balance__gt=0,
            points_expire_at__gte=now,
            points_expire_at__lt=now + timedelta(days=days),
        )


class LastOrderFilter(admin.SimpleListFilter):
    title = _("last order")
    parameter_name = "last_order"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [
            ("30", _("in the last 30 days")),
            ("90", _("in the last 90 days")),
            ("365", _("in the last year")),
            ("older", _("more than a year ago")),
            ("never", _("never")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Member]) -> QuerySet[Member]:
        value = self.value()
        now = timezone.now()
        if value == "never":
            return queryset.filter(last_order_at__isnull=True)
        if value == "older":
            return queryset.filter(last_order_at__lt=now - timedelta(days=365))
        days = int_param(value, default=-1, low=0, high=MAX_DAYS)
        if days >= 0:
            return queryset.filter(last_order_at__gte=now - timedelta(days=days))
        return queryset


# The tier filter (with counts) is loyalty.admin.members.TierListFilter.
MEMBER_FILTERS = (BalanceFilter, ExpiringWithinFilter, LastOrderFilter)
