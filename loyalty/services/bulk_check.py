"""Reading and checking a bulk CSV: every row ready, or invalid and why; nothing written.

The checks are the run's own (the external id rule, the points' range, the member's
existence, support's per-change limit and members' day), so a preview says what the run
will do; the run checks each row again as things are then.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from loyalty.content import REASON_KEY, content_languages, translations_problems
from loyalty.csvfiles import csv_reader
from loyalty.errors import InvalidInput, MemberNotFound
from loyalty.ids import external_id_problem
from loyalty.models import BulkJob, BulkRow, Member, Program, User
from loyalty.roles import (
    GrantLimitExceeded,
    Permission,
    SupportDailyLimitExceeded,
    SupportJobLimitExceeded,
    role_limited,
)
from loyalty.services.members import LOCALES
from loyalty.services.points import MAX_GRANT, MAX_REASON, support_points_today

MAX_ROWS = 100_000
MAX_CSV_BYTES = 10_000_000

# The reason per language the member reads (``loyalty.content``): reason_es, reason_ru, ...
REASON_COLUMNS = {code: f"reason_{code}" for code in content_languages()}
COLUMNS: dict[str, tuple[str, ...]] = {
    BulkJob.Kind.POINTS: ("external_id", "points", "reason", *REASON_COLUMNS.values()),
    BulkJob.Kind.COUPONS: ("external_id", "reason", *REASON_COLUMNS.values()),
    BulkJob.Kind.MEMBERS: ("external_id", "email", "name", "locale"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    BulkJob.Kind.POINTS: ("external_id", "points"),
    BulkJob.Kind.COUPONS: ("external_id",),
    BulkJob.Kind.MEMBERS: ("external_id",),
}
PERMISSION: dict[str, str] = {
    BulkJob.Kind.POINTS: Permission.POINTS,
    BulkJob.Kind.COUPONS: Permission.COUPONS,
    BulkJob.Kind.MEMBERS: Permission.MANAGE,
}


@dataclass
class ParsedRow:
    line: int
    values: dict[str, str]
    status: str = BulkRow.Status.READY
    code: str = ""
    column: str = ""  # the column a refusal is about
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def bulk_parse(*, kind: str, data: bytes) -> list[ParsedRow]:
    """The CSV's rows with a header naming the columns of ``kind`` (extra columns ignored)."""
    if kind not in COLUMNS:
        raise InvalidInput({"kind": [_("Choose one of: %s.") % ", ".join(COLUMNS)]})
    reader = csv_reader(data, max_bytes=MAX_CSV_BYTES)
    header: list[str] | None = None
    rows: list[ParsedRow] = []
    try:
        for cells in reader:
            values = [cell.strip() for cell in cells]
            if not any(values):
                continue
            if header is None:
                header = [value.lower() for value in values]
                missing = [name for name in REQUIRED[kind] if name not in header]
                if missing:
                    raise InvalidInput(
                        {"file": [_("The first line must name the columns: %(columns)s.")
                                  % {"columns": ", ".join(COLUMNS[kind])}]}
                    )  # fmt: skip
                continue
            if len(rows) == MAX_ROWS:
                raise InvalidInput(
                    {"file": [_("There are more than %(max)s rows; split the file.")
                              % {"max": f"{MAX_ROWS:,}"}]}
                )  # fmt: skip
            cells_by_name = dict(zip(header, values, strict=False))
            # The known columns the file has (the required ones always): the row as uploaded.
            known = [n for n in COLUMNS[kind] if n in header or n in REQUIRED[kind]]
            rows.append(ParsedRow(reader.line_num, {n: cells_by_name.get(n, "") for n in known}))
    except csv.Error as error:
        raise InvalidInput(
            {"file": [_("Line %(line)s is not valid CSV: %(error)s.")
                      % {"line": reader.line_num, "error": error}]}
        ) from None  # fmt: skip
    if not rows:
        raise InvalidInput({"file": [_("The file holds no rows.")]})
    return rows


def _fail(row: ParsedRow, column: str, detail: str, code: str = "validation_error") -> None:
    row.status, row.code, row.column, row.detail = BulkRow.Status.INVALID, code, column, detail


def _chunks(items: list[str], size: int = 1000) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_check(
    *, program: Program, kind: str, rows: list[ParsedRow], user: User | None, params: dict[str, Any]
) -> list[ParsedRow]:
    """Check every row as the run will (nothing written): ready, or invalid and why."""
    seen: dict[str, int] = {}
    default_reason = str(params.get("reason") or "").strip()
    for row in rows:
        external_id = row.values["external_id"]
        if problem := external_id_problem(external_id):
            _fail(row, "external_id", problem)
            continue
        if external_id in seen and kind != BulkJob.Kind.POINTS:
            _fail(row, "external_id", _("Repeats line %(line)s.") % {"line": seen[external_id]})
            continue
        seen.setdefault(external_id, row.line)
        if kind == BulkJob.Kind.POINTS:
            _check_points_row(row, program=program, user=user, default_reason=default_reason)
        elif kind == BulkJob.Kind.COUPONS:
            _check_coupon_row(row, default_reason=default_reason)
        else:
            locale = row.values.get("locale") or "en"
            if locale not in LOCALES:
                _fail(row, "locale", _("Choose one of: %s.") % ", ".join(LOCALES))
            row.data = {
                "email": row.values.get("email", ""),
                "name": row.values.get("name", ""),
                "locale": locale,
            }
    if kind in (BulkJob.Kind.POINTS, BulkJob.Kind.COUPONS):
        known: dict[str, int] = {}
        for chunk in _chunks(list(seen)):
            known.update(
                Member.objects.filter(program=program, external_id__in=chunk).values_list(
                    "external_id", "pk"
                )
            )
        for row in rows:
            if row.status == BulkRow.Status.READY and row.values["external_id"] not in known:
                _fail(
                    row,
                    "external_id",
                    MemberNotFound(external_id=row.values["external_id"]).detail,
                    "member_not_found",
                )
        if kind == BulkJob.Kind.POINTS and role_limited(user):
            _check_support_day(program, rows, known)
    return rows


def _check_support_day(program: Program, rows: list[ParsedRow], known: dict[str, int]) -> None:
    """Support's day per member (``points_grant``'s rule), rows counted in line order on
    top of what the member's day already holds: a row that would pass it is invalid. The
    run checks each row again, as the day is then."""
    used = support_points_today(program=program, members=list(known.values()))
    limit = program.support_daily_member_limit
    for row in rows:
        if row.status != BulkRow.Status.READY:
            continue
        member_id, points = known[row.values["external_id"]], abs(row.data["points"])
        today = used.get(member_id, 0)
        if today + points > limit:
            error = SupportDailyLimitExceeded(limit=limit, used=today, points=points)
            _fail(row, "points", error.detail, error.code)
            continue
        used[member_id] = today + points


def job_points_check(points: list[int], *, program: Program, user: User | None) -> None:
    """Refuse a points job beyond a limited user's limits: a row above the per-change limit,
    or more than ``support_job_limit`` points in all."""
    if not role_limited(user):
        return
    largest = max((abs(p) for p in points), default=0)
    if largest > program.support_grant_limit:
        raise GrantLimitExceeded(limit=program.support_grant_limit, points=largest)
    total = sum(abs(p) for p in points)
    if total > program.support_job_limit:
        raise SupportJobLimitExceeded(limit=program.support_job_limit, points=total)


def _reason_translations(row: ParsedRow) -> dict[str, str] | None:
    """The row's reason per language (reason_es, ...), or None once the row is failed."""
    translations = {code: row.values[name] for code, name in REASON_COLUMNS.items()
                    if row.values.get(name)}  # fmt: skip
    if problems := translations_problems(translations, max_length=MAX_REASON):
        _fail(row, "reason", " ".join(problems))
        return None
    return translations


def _check_coupon_row(row: ParsedRow, *, default_reason: str) -> None:
    """A compensation coupon's row: the reason (the form's by default) and its translations,
    which the member reads on the coupon."""
    reason = row.values.get("reason") or default_reason
    if not reason:
        _fail(row, "reason", _("A reason is required; give one in the form or in the file."))
    translations = _reason_translations(row)
    row.data = {"reason": reason}
    if translations:
        row.data[REASON_KEY] = translations


def _check_points_row(
    row: ParsedRow, *, program: Program, user: User | None, default_reason: str
) -> None:
    try:
        points = int(Decimal(row.values["points"]))
        if Decimal(row.values["points"]) != points:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        _fail(row, "points", _("Give a whole number of points (negative to deduct)."))
        return
    if points == 0 or abs(points) > MAX_GRANT:
        _fail(row, "points", _("Give a whole number of points other than zero, at most 100000000."))
        return
    reason = row.values.get("reason") or default_reason
    if not reason:
        _fail(row, "reason", _("A reason is required; the member will see it."))
        return
    translations = _reason_translations(row)
    if translations is None:
        return
    row.data = {"points": points, "reason": reason}
    if translations:
        row.data[REASON_KEY] = translations
    if role_limited(user) and abs(points) > program.support_grant_limit:
        error = GrantLimitExceeded(limit=program.support_grant_limit, points=abs(points))
        _fail(row, "points", error.detail, error.code)
