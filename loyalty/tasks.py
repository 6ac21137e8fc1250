"""Scheduled jobs of the loyalty app. Thin: each calls one service and is safe to run twice."""

import logging

from celery import shared_task

from loyalty.metrics import POINTS_EXPIRED
from loyalty.services.expiry import points_expire
from loyalty.services.idempotency import idempotency_purge as purge
from loyalty.services.ledger import ledger_audit
from loyalty.services.ops import ops_check

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
