"""Operations alerts: the program is watched, not only run.

The scheduled ledger check (``loyalty.tasks.ledger_check``, hourly) calls
``ops_check``, which looks for two things per merchant:
- a ledger mismatch: a member whose balance is not the sum of its entries, or
  whose chain of ``balance_after`` is broken (``ledger_audit``);
- an outbox backlog: notifications or webhook deliveries due for longer than
  ``OPS_OUTBOX_STALE_MINUTES`` and still not sent, i.e. delivery is not keeping
  up or not running at all (rows waiting for a retry are not due, so they do
  not count).

Invariant: a merchant has at most one open alert per kind (a partial unique
index). An alert opens when a problem is first seen and emails the merchant's
active staff users once; each later check updates its count; a check that no
longer sees the problem closes it. If it comes back, a new alert opens and
emails again. ``loyalty.selectors.ops_alerts(merchant=...)`` is what the dashboard shows.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from loyalty.models import Member, Merchant, OpsAlert, User
from loyalty.services.ledger import LedgerMismatch, ledger_audit
from notifications.models import Notification, WebhookDelivery

logger = logging.getLogger(__name__)

Kind = OpsAlert.Kind
# How many mismatching members an alert names (the rest are counted).
DETAIL_MEMBERS = 20


@dataclass
class OpsCheck:
    mismatches: int = 0
    backlog: int = 0
    opened: list[OpsAlert] = field(default_factory=list)
    resolved: int = 0


def outbox_backlog(*, stale_minutes: int | None = None) -> dict[int, int]:
    """Per merchant id: notifications and webhook deliveries due for longer than
    ``stale_minutes`` and not sent yet."""
    minutes = settings.OPS_OUTBOX_STALE_MINUTES if stale_minutes is None else stale_minutes
    cutoff = timezone.now() - timedelta(minutes=minutes)
    backlog: dict[int, int] = defaultdict(int)
    notifications = (
        Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lt=cutoff)
        .values("member__program__merchant_id")
        .annotate(n=Count("pk"))
    )
    for row in notifications:
        backlog[row["member__program__merchant_id"]] += row["n"]
    deliveries = (
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lt=cutoff
        )
        .values("endpoint__merchant_id")
        .annotate(n=Count("pk"))
    )
    for delivery in deliveries:
        backlog[delivery["endpoint__merchant_id"]] += delivery["n"]
    return dict(backlog)


def _mismatches_by_merchant(mismatches: list[LedgerMismatch]) -> dict[int, list[LedgerMismatch]]:
    merchant_of = dict(
        Member.objects.filter(pk__in={m.member_id for m in mismatches}).values_list(
            "pk", "program__merchant_id"
        )
    )
    found: dict[int, list[LedgerMismatch]] = defaultdict(list)
    for mismatch in mismatches:
        found[merchant_of[mismatch.member_id]].append(mismatch)
    return dict(found)


def ops_check(*, mismatches: list[LedgerMismatch] | None = None) -> OpsCheck:
    """Run both checks, open/update/close each merchant's alerts, email about new ones.

    ``mismatches``: a ``ledger_audit()`` the caller already ran (else it runs here)."""
    if mismatches is None:
        mismatches = ledger_audit()
    for mismatch in mismatches:
        logger.error("ledger mismatch: member %s: %s", mismatch.external_id, mismatch.problem)
    problems: dict[tuple[int, str], tuple[int, str]] = {}
    for merchant_id, found in _mismatches_by_merchant(mismatches).items():
        members = sorted({m.external_id for m in found})
        lines = [f"member {m.external_id}: {m.problem}" for m in found[:DETAIL_MEMBERS]]
        if len(found) > DETAIL_MEMBERS:
            lines.append(f"... and {len(found) - DETAIL_MEMBERS} more")
        problems[(merchant_id, Kind.LEDGER_MISMATCH)] = (len(members), "\n".join(lines))
    backlog = outbox_backlog()
    for merchant_id, count in backlog.items():
        detail = (
            f"{count} notifications or webhook deliveries have been due for more than "
            f"{settings.OPS_OUTBOX_STALE_MINUTES} minutes and are not sent. "
            "Check that the Celery worker and beat are running and that Redis is reachable."
        )
        problems[(merchant_id, Kind.OUTBOX_BACKLOG)] = (count, detail)
        logger.error("outbox backlog: merchant %s: %s rows overdue", merchant_id, count)

    result = OpsCheck(mismatches=len(mismatches), backlog=sum(backlog.values()))
    now = timezone.now()
    with transaction.atomic():
        open_alerts = {
            (a.merchant_id, a.kind): a
            for a in OpsAlert.objects.select_for_update().filter(resolved_at__isnull=True)
        }
        for key, alert in open_alerts.items():
            if key not in problems:
                alert.resolved_at = now
                alert.save(update_fields=["resolved_at"])
                result.resolved += 1
        for (merchant_id, kind), (count, detail) in problems.items():
            existing = open_alerts.get((merchant_id, kind))
            if existing is None:
                created = OpsAlert.objects.create(
                    merchant_id=merchant_id, kind=kind, count=count, detail=detail
                )
                result.opened.append(created)
            else:
                existing.count, existing.detail, existing.last_seen_at = count, detail, now
                existing.save(update_fields=["count", "detail", "last_seen_at"])
    for alert in result.opened:
        _notify(alert)
    return result


def ops_staff_recipients(*, merchant: Merchant) -> list[str]:
    """Who hears about a merchant's alerts: its active managers with an email address."""
    return sorted(
        User.objects.filter(
            merchant=merchant, is_staff=True, is_active=True, role=User.Role.MANAGER
        )
        .exclude(email="")
        .values_list("email", flat=True)
    )


def _notify(alert: OpsAlert) -> None:
    """Email the merchant's staff about a new alert. A mail failure is logged, not raised:
    the alert stays on the dashboard either way, and ``notified_at`` stays empty."""
    merchant = alert.merchant
    recipients = ops_staff_recipients(merchant=merchant)
    if not recipients:
        logger.warning("ops alert %s for %s: no staff to email", alert.kind, merchant.slug)
        return
    subject = f"[{merchant.name}] Loyalty program alert: {alert.get_kind_display()}"
    body = (
        f"The scheduled check found a problem with the loyalty program of {merchant.name}.\n\n"
        f"{alert.get_kind_display()} ({alert.count})\n\n{alert.detail}\n\n"
        f"Seen at {alert.opened_at:%Y-%m-%d %H:%M %Z}. It stays on the admin dashboard "
        "until a check no longer finds it.\n"
    )
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        logger.exception("ops alert %s for %s: email failed", alert.pk, merchant.slug)
        return
    OpsAlert.objects.filter(pk=alert.pk).update(notified_at=timezone.now())
