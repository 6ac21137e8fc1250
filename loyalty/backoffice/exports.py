"""CSV exports of members, the ledger and coupons for a date range, streamed.

Invariants: memory and queries stay constant whatever the size: rows come from one
server-side cursor (``.iterator(chunk_size)``) straight into the response, a line at a
time, so a million rows never sit in memory. Lines are written by ``loyalty.csvfiles``,
so no cell can be taken for a formula by a spreadsheet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from itertools import chain
from typing import Any

from loyalty.backoffice.dashboard import _bounds
from loyalty.csvfiles import csv_lines
from loyalty.models import LedgerEntry, Member, Program
from rewards.models import Coupon

CHUNK = 2000


def _members(program: Program, since: Any, until: Any) -> tuple[list[str], Iterable[Any]]:
    columns = ["external_id", "email", "name", "locale", "balance", "points_expire_at",
               "last_order_at", "consent_email", "consent_push", "created_at"]  # fmt: skip
    rows = (
        Member.objects.filter(program=program, created_at__gte=since, created_at__lt=until)
        .order_by("pk")
        .values_list(*columns)
    )
    return columns, rows.iterator(chunk_size=CHUNK)


def _ledger(program: Program, since: Any, until: Any) -> tuple[list[str], Iterable[Any]]:
    columns = ["id", "created_at", "member", "kind", "points", "balance_after", "reason",
               "order", "by"]  # fmt: skip
    rows = (
        LedgerEntry.objects.filter(program=program, created_at__gte=since, created_at__lt=until)
        .order_by("pk")
        .values_list(
            "pk",
            "created_at",
            "member__external_id",
            "kind",
            "points",
            "balance_after",
            "reason",
            "order__external_id",
            "created_by__username",
        )
    )
    return columns, rows.iterator(chunk_size=CHUNK)


def _coupons(program: Program, since: Any, until: Any) -> tuple[list[str], Iterable[Any]]:
    columns = ["code", "member", "source", "kind", "value", "currency", "status",
               "uses_count", "uses_allowed", "valid_until", "reason", "created_at"]  # fmt: skip
    rows = (
        Coupon.objects.filter(program=program, created_at__gte=since, created_at__lt=until)
        .order_by("pk")
        .values_list(
            "code",
            "member__external_id",
            "source",
            "kind",
            "value",
            "currency",
            "status",
            "uses_count",
            "uses_allowed",
            "valid_until",
            "reason",
            "created_at",
        )
    )
    return columns, rows.iterator(chunk_size=CHUNK)


EXPORTS = {"members": _members, "ledger": _ledger, "coupons": _coupons}


def export_lines(*, kind: str, program: Program, start: date, end: date) -> Iterator[str]:
    """The export's CSV, line by line (the query runs when the first line is asked)."""
    since, until = _bounds(start, end)
    header, rows = EXPORTS[kind](program, since, until)
    return csv_lines(chain([header], rows))
