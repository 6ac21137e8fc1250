"""Scheduled jobs of the loyalty app. Thin: each calls one service and is safe to run twice."""

import logging

from celery import shared_task

from loyalty.idempotency import idempotency_purge as purge
from loyalty.metrics import POINTS_EXPIRED
from loyalty.models import Program
from loyalty.services.birthdays import birthdays_award
from loyalty.services.bulk import bulk_job_run
from loyalty.services.expiry import points_expire
from loyalty.services.ledger import ledger_audit
from loyalty.services.ops import ops_check
from loyalty.services.pending import pending_release
from loyalty.services.profile_access import profile_tokens_purge as purge_tokens
from loyalty.services.profile_access import signin_email_send
from loyalty.services.tier_job import tiers_evaluate

logger = logging.getLogger(__name__)


@shared_task
def ledger_check() -> int:
    """Prove every balance equals its entries and the outboxes drain; a problem opens an
    alert on the dashboard and emails the merchant's staff (loyalty.services.ops)."""
    return ops_check(mismatches=ledger_audit()).mismatches


@shared_task
def idempotency_purge() -> int:
    return purge()


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def expire_points() -> dict[str, int]:
    """Expire what is due; batches commit one by one, so a rerun carries on."""
    run = points_expire()
    POINTS_EXPIRED.inc(run.points)
    return {"members": run.members, "entries": run.entries, "points": run.points}


@shared_task(acks_late=True)
def award_birthdays() -> dict[str, int]:
    """Today's birthday bonuses; a rerun gives nothing twice (one key per member and year)."""
    run = birthdays_award()
    return {"members": run.members, "points": run.points}


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def evaluate_tiers() -> dict[str, int]:
    """Re-evaluate tiers (the only way down) and send the keep-your-tier notices."""
    run = tiers_evaluate()
    return {
        "members": run.members,
        "up": run.up,
        "down": run.down,
        "overrides_ended": run.overrides_ended,
        "notices": run.notices,
    }


@shared_task
def profile_sign_in_email(program_id: int, email: str, language: str) -> bool:
    """Email a sign-in link if the address is a member's. Run off the request, so asking
    for a link takes the same time whether or not the address is known."""
    program = Program.objects.select_related("merchant").get(pk=program_id)
    return signin_email_send(program=program, email=email, language=language)


@shared_task
def profile_tokens_purge() -> int:
    """Delete sign-in tokens that expired a day ago or more (spent or not, they sign no one in)."""
    return purge_tokens()


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def bulk_job_run_task(job_id: int) -> dict[str, int]:
    """Run a confirmed bulk job; a rerun does only the rows still ready."""
    job = bulk_job_run(job_id=job_id)
    return {"processed": job.processed, "succeeded": job.succeeded, "failed": job.failed}


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def release_pending() -> dict[str, int]:
    """Pending points whose return window ended count now; batches commit one by one."""
    run = pending_release()
    return {"members": run.members, "earnings": run.earnings, "points": run.points}
