"""Bulk operations from a CSV: grant or deduct points, issue compensation coupons, import
members. Each is previewed (every row checked, nothing written), then run by a Celery task
with progress, and leaves a report of every row.

Invariants:
- A row is marked done or failed in the same transaction as its effect, and taken under
  a row lock that a second worker skips; a job run again (a retry, a crash, a second
  click) does only the rows still ready, so nothing is applied twice.
- Points rows also carry an idempotency key ``bulk:<job>:<line>`` in the ledger: even
  a row replayed by hand cannot book its points twice.
- The rules are the single-row services' own (``points_grant`` with the staff user's
  role and limits, ``coupon_issue_compensation``, ``member_upsert``); a refusal fails
  that row with its code, never the job.
- A job runs as the one who started it (``started_by``, the last to start it), checked
  against that person's role as it is when the run starts and against the member's day
  as it is when each row runs; whoever previews a job only says what it would do.
  Starting is refused to a user who could not have previewed the job as it is (support:
  a row above its per-change limit, or more than the program's ``support_job_limit`` in
  all). Previews and starts go to the audit trail.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.csvfiles import csv_reader
from loyalty.errors import InvalidInput, LoyaltyError, MemberNotFound
from loyalty.ids import external_id_problem
from loyalty.models import BulkJob, BulkRow, Member, Program, User
from loyalty.services.audit import Action, audit_record
from loyalty.services.members import LOCALES, member_upsert
from loyalty.services.points import MAX_GRANT, points_grant, support_points_today
from loyalty.services.roles import (
    GrantLimitExceeded,
    Permission,
    SupportDailyLimitExceeded,
    SupportJobLimitExceeded,
    role_check,
    role_check_merchant,
    role_limited,
)
from loyalty.snapshot import program_snapshot
from notifications.services.webhooks import webhook_endpoints_snapshot

MAX_ROWS = 100_000
MAX_CSV_BYTES = 10_000_000
CHUNK = 200  # rows per progress update

COLUMNS: dict[str, tuple[str, ...]] = {
    BulkJob.Kind.POINTS: ("external_id", "points", "reason"),
    BulkJob.Kind.COUPONS: ("external_id", "reason"),
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
            rows.append(
                ParsedRow(
                    reader.line_num, {name: cells_by_name.get(name, "") for name in COLUMNS[kind]}
                )
            )
    except csv.Error as error:
        raise InvalidInput(
            {"file": [_("Line %(line)s is not valid CSV: %(error)s.")
                      % {"line": reader.line_num, "error": error}]}
        ) from None  # fmt: skip
    if not rows:
        raise InvalidInput({"file": [_("The file holds no rows.")]})
    return rows


def _fail(row: ParsedRow, detail: str, code: str = "validation_error") -> None:
    row.status, row.code, row.detail = BulkRow.Status.INVALID, code, detail


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
            _fail(row, problem)
            continue
        if external_id in seen and kind != BulkJob.Kind.POINTS:
            _fail(row, _("Repeats line %(line)s.") % {"line": seen[external_id]})
            continue
        seen.setdefault(external_id, row.line)
        if kind == BulkJob.Kind.POINTS:
            _check_points_row(row, program=program, user=user, default_reason=default_reason)
        elif kind == BulkJob.Kind.COUPONS:
            reason = row.values.get("reason") or default_reason
            if not reason:
                _fail(row, _("A reason is required; give one in the form or in the file."))
            row.data = {"reason": reason}
        else:
            locale = row.values.get("locale") or "en"
            if locale not in LOCALES:
                _fail(row, _("Choose one of: %s.") % ", ".join(LOCALES))
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
            _fail(row, error.detail, error.code)
            continue
        used[member_id] = today + points


def _job_points(points: list[int], *, program: Program, user: User | None) -> None:
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


def _check_points_row(
    row: ParsedRow, *, program: Program, user: User | None, default_reason: str
) -> None:
    try:
        points = int(Decimal(row.values["points"]))
        if Decimal(row.values["points"]) != points:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        _fail(row, _("Give a whole number of points (negative to deduct)."))
        return
    if points == 0 or abs(points) > MAX_GRANT:
        _fail(row, _("Give a whole number of points other than zero, at most 100000000."))
        return
    reason = row.values.get("reason") or default_reason
    if not reason:
        _fail(row, _("A reason is required; the member will see it."))
        return
    row.data = {"points": points, "reason": reason}
    if role_limited(user) and abs(points) > program.support_grant_limit:
        error = GrantLimitExceeded(limit=program.support_grant_limit, points=abs(points))
        _fail(row, error.detail, error.code)


@transaction.atomic
def bulk_job_create(
    *,
    program: Program,
    kind: str,
    data: bytes,
    file_name: str = "",
    params: dict[str, Any] | None = None,
    created_by: User | None = None,
) -> BulkJob:
    """Parse and check a CSV into a job in preview: every row with its status, nothing done.

    Support's limits are the previewer's: rows above its per-change limit or its members'
    day are invalid, and a job beyond its job limit is refused whole.
    """
    role_check(user=created_by, permission=PERMISSION.get(kind, Permission.MANAGE))
    role_check_merchant(user=created_by, merchant_id=program.merchant_id)
    params = dict(params or {})
    if kind == BulkJob.Kind.COUPONS:
        _coupon_terms(program, params)  # refuses a missing or foreign template now
    rows = bulk_check(
        program=program,
        kind=kind,
        rows=bulk_parse(kind=kind, data=data),
        user=created_by,
        params=params,
    )
    ready = [row for row in rows if row.status == BulkRow.Status.READY]
    points = [row.data["points"] for row in ready] if kind == BulkJob.Kind.POINTS else []
    _job_points(points, program=program, user=created_by)
    job = BulkJob.objects.create(
        merchant_id=program.merchant_id,
        program=program,
        kind=kind,
        file_name=file_name[:200],
        params=params,
        total=len(ready),
        created_by=created_by,
    )
    BulkRow.objects.bulk_create(
        (
            BulkRow(
                job=job,
                line=row.line,
                external_id=row.values["external_id"][:191],
                data=row.data,
                status=row.status,
                code=row.code,
                detail=row.detail,
            )
            for row in rows
        ),
        batch_size=2000,
    )
    if created_by is not None:
        audit_record(
            merchant=program.merchant_id,
            actor=created_by,
            action=Action.BULK_PREVIEW,
            target=job,
            changes={
                "kind": kind,
                "file": job.file_name,
                "rows": len(rows),
                "ready": len(ready),
                **({"points": sum(abs(p) for p in points)} if points else {}),
            },
        )
    return job


@transaction.atomic
def bulk_job_start(*, job: BulkJob, user: User | None) -> BulkJob:
    """Confirm a previewed job: it is queued, and the task runs it after this commits.

    The rows run as ``user``, whoever previewed the job: the user must be allowed the
    job's kind, be of its merchant and, below a manager, have its rows within support's
    per-change and job limits (each row meets the member's day when it runs). Starting a
    job again (queued, running or done) queues it again, now as this user; the run does
    only the rows still ready.
    """
    from loyalty.tasks import bulk_job_run_task  # the task module imports this one

    role_check(user=user, permission=PERMISSION.get(job.kind, Permission.MANAGE))
    role_check_merchant(user=user, merchant_id=job.merchant_id)
    locked = (
        BulkJob.objects.select_for_update(of=("self",))
        .select_related("program", "created_by")
        .get(pk=job.pk)
    )
    ready = BulkRow.objects.filter(job=locked, status=BulkRow.Status.READY)
    points = (
        [int(data["points"]) for data in ready.values_list("data", flat=True)]
        if locked.kind == BulkJob.Kind.POINTS
        else []
    )
    _job_points(points, program=locked.program, user=user)
    first = locked.status == BulkJob.Status.PREVIEW
    if first:
        locked.status = BulkJob.Status.QUEUED
    locked.started_by = user
    locked.save(update_fields=["status", "started_by"])
    if user is not None:
        audit_record(
            merchant=locked.merchant_id,
            actor=user,
            action=Action.BULK_START,
            target=locked,
            changes={
                "kind": locked.kind,
                "previewed_by": locked.created_by.get_username() if locked.created_by else "",
                "again": not first,
                "rows": len(points) if locked.kind == BulkJob.Kind.POINTS else ready.count(),
                **({"points": sum(abs(p) for p in points)} if points else {}),
            },
        )
    # After commit: the worker must find the job queued (and never run a rolled-back one).
    transaction.on_commit(partial(bulk_job_run_task.delay, locked.pk))
    return locked


@transaction.atomic
def bulk_job_coupons(
    *,
    program: Program,
    rows: list[tuple[int, str]],
    terms: dict[str, Any],
    reason: str,
    source: str,
    skip_already_issued: bool,
    key: str,
    created_by: User | None = None,
    file_name: str = "",
) -> BulkJob:
    """A confirmed batch of coupons from the coupon CSV page, run by the task.

    The rows are checked as the page's preview checks them (``rows_check``); ``key`` is
    the confirmed batch's: sending it twice gives the same job back.
    """
    from rewards.forms import terms_from_payload
    from rewards.services.admin_ops import CsvRow, RowStatus, coupons_issue_check, rows_check

    role_check(user=created_by, permission=Permission.COUPONS)
    role_check_merchant(user=created_by, merchant_id=program.merchant_id)
    reason = (reason or "").strip()
    # The program's row serialises two confirmations of one batch.
    Program.objects.select_for_update().filter(pk=program.pk).first()
    existing = BulkJob.objects.filter(program=program, params__key=key).first()
    if existing is not None:
        return existing
    coupons_issue_check(
        program=program,
        terms=terms_from_payload(terms, program=program),
        reason=reason,
        source=source,
        rows=len(rows),
    )
    outcomes = rows_check(
        program=program,
        rows=[CsvRow(line, external_id) for line, external_id in rows],
        reason=reason,
        skip_already_issued=skip_already_issued,
    )
    job = BulkJob.objects.create(
        merchant_id=program.merchant_id,
        program=program,
        kind=BulkJob.Kind.COUPONS,
        status=BulkJob.Status.QUEUED,
        file_name=file_name[:200],
        params={"key": key, "terms": terms, "reason": reason, "source": source},
        total=sum(1 for o in outcomes if o.status == RowStatus.READY),
        created_by=created_by,
        started_by=created_by,  # confirmed on the coupon page: previewed and started at once
    )
    BulkRow.objects.bulk_create(
        (
            BulkRow(
                job=job,
                line=outcome.line,
                external_id=outcome.external_id[:191],
                data={"reason": reason},
                status=BulkRow.Status.READY
                if outcome.status == RowStatus.READY
                else BulkRow.Status.INVALID,
                code="" if outcome.status == RowStatus.READY else outcome.status,
                detail=outcome.detail,
            )
            for outcome in outcomes
        ),
        batch_size=2000,
    )
    from loyalty.tasks import bulk_job_run_task

    transaction.on_commit(partial(bulk_job_run_task.delay, job.pk))
    return job


def _coupon_terms(program: Program, params: dict[str, Any]) -> Any:
    from rewards.models import CouponTemplate

    if isinstance(params.get("terms"), dict):
        from rewards.forms import terms_from_payload

        return terms_from_payload(params["terms"], program=program)

    template_id = params.get("template")
    template = (
        CouponTemplate.objects.filter(program=program, pk=template_id).first()
        if isinstance(template_id, int)
        else None
    )
    if template is None:
        raise InvalidInput({"template": [_("Choose a coupon template of this program.")]})
    return template


def _run_row(job: BulkJob, row: BulkRow, terms: Any) -> None:
    """Apply one row (the caller holds its lock, in a transaction)."""
    program = job.program
    if job.kind == BulkJob.Kind.POINTS:
        result = points_grant(
            program=program,
            member_external_id=row.external_id,
            points=int(row.data["points"]),
            reason=row.data["reason"],
            created_by=job.started_by,
            idempotency_key=f"bulk:{job.pk}:{row.line}",
        )
        row.detail = _("Balance: %(balance)s.") % {"balance": result.balance}
    elif job.kind == BulkJob.Kind.COUPONS:
        from rewards.models import Coupon
        from rewards.services.coupons import coupon_issue_compensation

        coupon = coupon_issue_compensation(
            program=program,
            member_external_id=row.external_id,
            terms=terms,
            reason=row.data["reason"],
            issued_by=job.started_by,
            source=job.params.get("source") or Coupon.Source.COMPENSATION,
        )
        row.code, row.detail = "", _("Coupon %(code)s.") % {"code": coupon.display_code}
    else:
        _member, created = member_upsert(
            program=program, external_id=row.external_id, actor=job.started_by, **row.data
        )
        row.detail = _("Created.") if created else _("Updated.")


def _progress(job: BulkJob) -> None:
    counts = BulkRow.objects.filter(job=job).aggregate(
        done=Count("pk", filter=Q(status=BulkRow.Status.DONE)),
        failed=Count("pk", filter=Q(status=BulkRow.Status.FAILED)),
    )
    BulkJob.objects.filter(pk=job.pk).update(
        processed=counts["done"] + counts["failed"],
        succeeded=counts["done"],
        failed=counts["failed"],
    )


def _run_rows(job: BulkJob, terms: Any, chunk: int) -> None:
    """The ready rows in line order, each in its own transaction; progress after a chunk."""
    last_line = 0
    while True:
        lines = list(
            BulkRow.objects.filter(job=job, status=BulkRow.Status.READY, line__gt=last_line)
            .order_by("line")
            .values_list("pk", "line")[:chunk]
        )
        if not lines:
            break
        for pk, line in lines:
            last_line = line
            with transaction.atomic():
                row = (
                    BulkRow.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, status=BulkRow.Status.READY)
                    .first()
                )
                if row is None:
                    continue  # another run has it, or did it
                try:
                    _run_row(job, row, terms)
                except LoyaltyError as error:
                    row.status, row.code = BulkRow.Status.FAILED, error.code
                    row.detail = (
                        " ".join(" ".join(m) for m in error.fields.values())
                        if isinstance(error, InvalidInput)
                        else error.detail
                    )
                else:
                    row.status = BulkRow.Status.DONE
                row.save(update_fields=["status", "code", "detail"])
        _progress(job)


def bulk_job_run(*, job_id: int, chunk: int = CHUNK) -> BulkJob:
    """Do the job's ready rows, each in its own transaction; progress after each chunk.

    Safe to run twice, also at the same time: a row taken by one run is skipped by the
    other (SKIP LOCKED), and a done row is never done again.
    """
    # The starter read afresh for each run: a role changed since the start is the one
    # its rows are checked against.
    job = BulkJob.objects.select_related("program__merchant", "started_by").get(pk=job_id)
    if job.status == BulkJob.Status.PREVIEW:
        return job  # not confirmed: nothing to do
    BulkJob.objects.filter(pk=job.pk).update(
        status=BulkJob.Status.RUNNING, started_at=job.started_at or timezone.now()
    )
    terms = _coupon_terms(job.program, job.params) if job.kind == BulkJob.Kind.COUPONS else None
    # The program's settings (thresholds, tiers) and the merchant's webhook endpoints are
    # read once for the run, not per row.
    with program_snapshot(), webhook_endpoints_snapshot(merchant_id=job.merchant_id):
        _run_rows(job, terms, chunk)
    _progress(job)
    with transaction.atomic():
        finished = BulkJob.objects.select_for_update().get(pk=job.pk)
        if not BulkRow.objects.filter(job=job, status=BulkRow.Status.READY).exists():
            first = finished.finished_at is None
            finished.status = BulkJob.Status.DONE
            finished.finished_at = finished.finished_at or timezone.now()
            finished.save(update_fields=["status", "finished_at"])
            if first and job.kind == BulkJob.Kind.MEMBERS and job.started_by is not None:
                audit_record(
                    merchant=job.merchant_id,
                    actor=job.started_by,
                    action=Action.MEMBER_IMPORT,
                    target=finished,
                    changes={"imported": finished.succeeded, "failed": finished.failed},
                )
    return finished


def bulk_report_rows(*, job: BulkJob) -> Iterator[list[Any]]:
    """The per-row report, in line order, as CSV cells (streamed)."""
    yield ["line", "external_id", "status", "code", "detail"]
    rows = (
        BulkRow.objects.filter(job=job)
        .order_by("line")
        .values_list("line", "external_id", "status", "code", "detail")
    )
    for row in rows.iterator(chunk_size=2000):
        yield list(row)
