"""What a bulk job's page shows before and after it runs: its totals and its rows as uploaded."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from loyalty.models import BulkJob, BulkRow
from loyalty.services.bulk_check import COLUMNS

Status = BulkRow.Status
# Rows that run or ran: what a job does (refused rows do nothing).
DOING = (Status.READY, Status.DONE)


@dataclass(frozen=True)
class BulkTotals:
    rows: int
    ready: int  # still to run
    done: int
    refused: int  # invalid in the preview or failed when run
    members: int  # distinct members the ready and done rows touch
    granted: int  # points added by the ready and done rows
    deducted: int  # points taken (a positive number)
    # Ready and done rows of more points (either way) than the program's confirmation amount:
    # the preview names them, and starting the job confirms them (``points_grant``).
    large: int = 0
    large_above: int = 0  # that amount

    @property
    def valid(self) -> int:
        return self.ready + self.done


def bulk_job_totals(*, job: BulkJob) -> BulkTotals:
    """One aggregate over the job's rows (a points job's points are in each row's data)."""
    rows = BulkRow.objects.filter(job=job).annotate(
        points=Cast(KeyTextTransform("points", "data"), IntegerField())
    )
    doing = Q(status__in=DOING)
    above = job.program.grant_confirmation_points
    large = Q(points__gt=above) | Q(points__lt=-above)
    counts = rows.aggregate(
        rows=Count("pk"),
        ready=Count("pk", filter=Q(status=Status.READY)),
        done=Count("pk", filter=Q(status=Status.DONE)),
        refused=Count("pk", filter=Q(status__in=(Status.INVALID, Status.FAILED))),
        members=Count("external_id", filter=doing, distinct=True),
        granted=Sum("points", filter=doing & Q(points__gt=0)),
        deducted=Sum("points", filter=doing & Q(points__lt=0)),
        large=Count("pk", filter=doing & large),
    )
    return BulkTotals(
        rows=counts["rows"],
        ready=counts["ready"],
        done=counts["done"],
        refused=counts["refused"],
        members=counts["members"],
        granted=counts["granted"] or 0,
        deducted=-(counts["deducted"] or 0),
        large=counts["large"],
        large_above=above,
    )


def bulk_row_cells(*, job: BulkJob, row: BulkRow) -> list[tuple[str, str, bool]]:
    """The row's cells as uploaded, in the file kind's column order: (column, value, whether
    the refusal is about it). Rows stored before the cells were kept show their external id."""
    values = row.values or {"external_id": row.external_id}
    return [
        (column, str(values.get(column, "")), bool(row.field) and row.field == column)
        for column in COLUMNS[job.kind]
    ]
