"""Scheduled jobs of the loyalty app. Thin: each calls one service and is safe to run twice."""

import logging

from celery import shared_task

from loyalty.services.idempotency import idempotency_purge as purge
from loyalty.services.ledger import ledger_audit

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
