"""Staff coupon batches too big for one request: the coupon CSV page confirms one as a bulk
job, which ``loyalty.services.bulk`` runs a row at a time; and the coupon terms such a batch
carries, as JSON, from the page's preview to its confirmation and into the job.
"""

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.content import REASON_KEY
from loyalty.errors import InvalidInput
from loyalty.models import BulkJob, BulkRow, Program, User
from loyalty.roles import Permission, role_check, role_check_merchant
from rewards.models import CouponTemplate
from rewards.services.admin_ops import (
    CsvRow,
    RowOutcome,
    RowStatus,
    coupons_issue_check,
    rows_check,
)
from rewards.services.coupons import CouponTerms, reason_translations
from rewards.services.reward_terms import REWARD_FIELDS
from rewards.services.thresholds import MONEY_TERM_FIELDS

# What runs a bulk job later: the caller's (loyalty.tasks.bulk_job_run_task.delay in the app).
Runner = Callable[[int], object]


def terms_payload(terms: CouponTerms | CouponTemplate) -> dict[str, Any]:
    """Coupon terms as JSON, kept from a preview to its confirmation (and in a bulk job): a
    template's id, or the terms themselves."""
    if isinstance(terms, CouponTemplate):
        return {"template": terms.pk}
    payload = {name: str(getattr(terms, name)) for name in MONEY_TERM_FIELDS}
    return payload | {name: getattr(terms, name) for name in REWARD_FIELDS}


def terms_from_payload(
    payload: dict[str, Any], *, program: Program
) -> CouponTerms | CouponTemplate:
    """The terms ``terms_payload`` wrote, read back (the template must still exist)."""
    if "template" in payload:
        template = CouponTemplate.objects.filter(program=program, pk=payload["template"]).first()
        if template is None:
            raise InvalidInput({"template": [str(_("The template no longer exists."))]})
        return template
    max_discount = payload.get("max_discount")
    return CouponTerms(
        kind=payload["kind"],
        value=Decimal(payload["value"]),
        max_discount=Decimal(max_discount) if max_discount not in (None, "None") else None,
        min_order_amount=Decimal(payload["min_order_amount"]),
        valid_days=int(payload["valid_days"]),
        uses=int(payload["uses"]),
        **{name: payload[name] for name in REWARD_FIELDS if name in payload},
    )


@transaction.atomic
def coupons_issue_job(
    *,
    program: Program,
    rows: list[tuple[int, str]],
    terms: dict[str, Any],
    reason: str,
    source: str,
    skip_already_issued: bool,
    key: str,
    run: Runner,
    created_by: User | None = None,
    file_name: str = "",
    reason_i18n: dict[str, str] | None = None,
) -> BulkJob:
    """A confirmed batch of coupons from the coupon CSV page (with the reason per language),
    as a bulk job run by ``run(job_id)`` after this commits (``loyalty.tasks``, a row a time).

    The rows are checked as the page's preview checks them (``rows_check``); ``key`` is
    the confirmed batch's: sending it twice gives the same job back.
    """
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
    translations = reason_translations(reason_i18n)
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
    made = (_coupon_row(job, o, reason=reason, translations=translations) for o in outcomes)
    BulkRow.objects.bulk_create(made, batch_size=2000)
    transaction.on_commit(partial(run, job.pk))
    return job


def _coupon_row(
    job: BulkJob, outcome: RowOutcome, *, reason: str, translations: dict[str, str]
) -> BulkRow:
    """A row of the coupon page's batch: ready, or invalid with the preview's refusal."""
    ready = outcome.status == RowStatus.READY
    return BulkRow(
        job=job,
        line=outcome.line,
        external_id=outcome.external_id[:191],
        data={"reason": reason, **({REASON_KEY: translations} if translations else {})},
        status=BulkRow.Status.READY if ready else BulkRow.Status.INVALID,
        code="" if ready else outcome.status,
        detail=outcome.detail,
    )
