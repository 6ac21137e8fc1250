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

from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.audit import Action, audit_record
from loyalty.content import REASON_KEY
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import BulkJob, BulkRow, Program, User
from loyalty.roles import Permission, role_check, role_check_merchant
from loyalty.services.bulk_check import (
    PERMISSION,
    ParsedRow,
    bulk_check,
    bulk_parse,
    job_points_check,
)
from loyalty.services.members import member_upsert
from loyalty.services.points import points_grant
from loyalty.snapshot import program_snapshot
from notifications.services.webhooks import webhook_endpoints_snapshot
from rewards.models import Coupon, CouponTemplate
from rewards.services.coupon_jobs import terms_from_payload
from rewards.services.coupons import coupon_issue_compensation

CHUNK = 200  # rows per progress update
# What runs a job later: the caller's, so this module never imports the tasks that call it
# (loyalty.tasks.bulk_job_run_task.delay in the app; the tests' own runner in tests).
Runner = Callable[[int], object]


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
    job_points_check(points, program=program, user=created_by)
    job = BulkJob.objects.create(
        merchant_id=program.merchant_id,
        program=program,
        kind=kind,
        file_name=file_name[:200],
        params=params,
        total=len(ready),
        created_by=created_by,
    )
    _rows_store(job, rows)
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


def _rows_store(job: BulkJob, rows: list[ParsedRow]) -> None:
    """Store the checked rows with the job, each with its status and why."""
    BulkRow.objects.bulk_create(
        (
            BulkRow(
                job=job,
                line=row.line,
                external_id=row.values["external_id"][:191],
                data=row.data,
                values=row.values,
                status=row.status,
                code=row.code,
                field=row.column,
                detail=row.detail,
            )
            for row in rows
        ),
        batch_size=2000,
    )


@transaction.atomic
def bulk_job_start(*, job: BulkJob, user: User | None, run: Runner) -> BulkJob:
    """Confirm a previewed job: it is queued, and ``run(job_id)`` is called after this
    commits (the worker must find the job queued, and never run a rolled-back one).

    The rows run as ``user``, whoever previewed the job: the user must be allowed the
    job's kind, be of its merchant and, below a manager, have its rows within support's
    per-change and job limits (each row meets the member's day when it runs). Starting a
    job again (queued, running or done) queues it again, now as this user; the run does
    only the rows still ready.
    """
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
    job_points_check(points, program=locked.program, user=user)
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
    transaction.on_commit(partial(run, locked.pk))
    return locked


def _coupon_terms(program: Program, params: dict[str, Any]) -> Any:
    if isinstance(params.get("terms"), dict):
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
            reason_i18n=row.data.get(REASON_KEY),
            created_by=job.started_by,
            idempotency_key=f"bulk:{job.pk}:{row.line}",
            # Starting the job is the confirmation of its rows above the program's
            # confirmation amount: the preview showed each row, those rows counted apart,
            # and the totals, before "Run" (the single form's second page, for a file).
            confirmed=True,
        )
        row.detail = _("Balance: %(balance)s.") % {"balance": result.balance}
    elif job.kind == BulkJob.Kind.COUPONS:
        coupon = coupon_issue_compensation(
            program=program,
            member_external_id=row.external_id,
            terms=terms,
            reason=row.data["reason"],
            reason_i18n=row.data.get(REASON_KEY),
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
                    row.field, row.detail = _failure(error)
                else:
                    row.status = BulkRow.Status.DONE
                row.save(update_fields=["status", "code", "field", "detail"])
        _progress(job)


def _failure(error: LoyaltyError) -> tuple[str, str]:
    """The column a run's refusal is about (the first an ``InvalidInput`` names) and why."""
    if isinstance(error, InvalidInput):
        detail = " ".join(" ".join(m) for m in error.fields.values())
        return next(iter(error.fields), "")[:40], detail
    return "", str(error.detail)


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
