"""Jobs of the notifications app. Thin: each calls one service and is safe to run twice."""

from celery import shared_task

from notifications.services.outbox import notifications_deliver
from notifications.services.reminders import reminders_send
from notifications.services.webhooks import webhooks_deliver


# acks_late: a worker that dies mid-run has its task redelivered; the claims make
# that safe (rows already marked "sending" are never sent again).
@shared_task(acks_late=True, soft_time_limit=290, time_limit=300)
def deliver(ids: list[int] | None = None) -> int:
    """Deliver the outbox: the given rows (right after the commit that wrote them), or every
    due row (the beat job, each minute)."""
    return notifications_deliver(ids=ids)


@shared_task(acks_late=True, soft_time_limit=3000, time_limit=3600)
def send_reminders() -> int:
    """Write today's expiry reminders; the outbox sends them. Safe to run twice."""
    return reminders_send()


# acks_late: a redelivered run is safe, rows are claimed and marked "sending" before each POST.
@shared_task(acks_late=True, soft_time_limit=290, time_limit=300)
def deliver_webhooks(ids: list[int] | None = None) -> int:
    """Deliver webhooks: the given rows (right after the commit that wrote them), or every
    due row (the beat job, each minute)."""
    return webhooks_deliver(ids=ids)
