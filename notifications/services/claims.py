"""How a delivery run claims outbox rows (email notifications and webhook deliveries alike).

A run takes up to ``batch_size`` due rows in one short transaction, with SKIP
LOCKED so concurrent runs never take the same row, and pushes their
``next_attempt_at`` past a lease: other runs leave them alone, and if this run
dies before sending them they are due again when the lease ends.
"""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone


def claim_due(
    due: QuerySet[Any], *, ids: list[int] | None, batch_size: int
) -> tuple[uuid.UUID, list[int]]:
    """Claim rows of ``due`` (already filtered to pending ones) whose attempt time has come.

    Returns the claim token and the ids this run now owns.
    """
    now = timezone.now()
    token = uuid.uuid4()
    lease = timedelta(seconds=getattr(settings, "NOTIFICATIONS_CLAIM_SECONDS", 300))
    with transaction.atomic():
        due = due.filter(next_attempt_at__lte=now)
        if ids is not None:
            due = due.filter(pk__in=ids)
        picked = list(
            due.order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch_size]
        )
        if picked:
            due.model.objects.filter(pk__in=picked).update(claim=token, next_attempt_at=now + lease)
    return token, picked
