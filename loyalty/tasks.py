"""Scheduled jobs of the loyalty app. Thin: each calls one service and is safe to run twice."""

import logging

from celery import shared_task

from loyalty.services.expiry import points_expire
from loyalty.services.idempotency import idempotency_purge as purge
from loyalty.services.ledger import ledger_audit
from loyalty.services.pending import pending_release

logger = logging.getLogger(__name__)


@shared_task
def ledger_check() -> int:
    """Prove every balance equals its entries; log each mismatch loudly."""
    mismatches = ledger_audit()
    for mismatch in mismatches:
        logger.error("ledger mismatch: member %s: %s", mismatch.external_id, mismatch.problem)
    return len(mismatches)


@shared_task
def idempotency_purge() -> int:
    return purge()


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def expire_points() -> dict[str, int]:
    """Expire what is due; batches commit one by one, so a rerun carries on."""
    run = points_expire()
    return {"members": run.members, "entries": run.entries, "points": run.points}


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def release_pending() -> dict[str, int]:
    """Pending points whose return window ended count now; batches commit one by one."""
    run = pending_release()
    return {"members": run.members, "earnings": run.earnings, "points": run.points}
