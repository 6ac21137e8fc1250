"""Idempotency-Key handling: the first answer to a write is kept and replayed to retries.

The record is inserted in the same transaction as the write it guards. A
concurrent request with the same key blocks on the unique index until the first
commits, then replays its answer; if the first failed with a server error, its
record is rolled back with everything else and the retry runs for real.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import IdempotencyConflict, InvalidInput
from loyalty.models import IdempotencyRecord, Merchant

Answer = tuple[int, Any]


class _ServerError(Exception):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, merchant: Merchant, key: str, fingerprint: str) -> int | None:
    """Insert the key's record (no answer yet) and return its id; None when the key is taken.

    ``ON CONFLICT DO NOTHING`` waits for a concurrent holder of the key as a plain insert
    would, but a taken key leaves the transaction usable: no savepoint is needed around it.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(IdempotencyRecord._meta.db_table)}"  # noqa: S608 - our names
            " (merchant_id, key, fingerprint, created_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            [
                merchant.pk,
                key,
                fingerprint,
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def idempotent_call(
    *, merchant: Merchant, key: str, fingerprint: str, call: Callable[[], Answer]
) -> Answer:
    """Run ``call`` once per (merchant, key); later calls get its (status, body) again."""
    if not key or len(key) > 255:
        raise InvalidInput({"Idempotency-Key": [str(_("Use 1 to 255 characters."))]})
    try:
        with transaction.atomic():
            record_id = _claim(merchant=merchant, key=key, fingerprint=fingerprint)
            if record_id is not None:
                status, body = call()
                if status >= 500:
                    raise _ServerError((status, body))
                IdempotencyRecord.objects.filter(pk=record_id).update(
                    status_code=status, response=json.dumps(body, cls=DjangoJSONEncoder)
                )
                return status, body
    except _ServerError as failed:
        return failed.answer
    record = IdempotencyRecord.objects.get(merchant=merchant, key=key)
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict()
    assert record.status_code is not None  # a record is only ever committed with its answer
    return record.status_code, json.loads(record.response or "null")


def idempotency_answer(*, key: str, merchant_id: int | None) -> Any:
    """The body kept for ``key`` (within one merchant; None: any), or None when there is none."""
    records = IdempotencyRecord.objects.filter(key=key, response__isnull=False)
    if merchant_id is not None:
        records = records.filter(merchant_id=merchant_id)
    record = records.first()
    return None if record is None else json.loads(record.response or "null")


def idempotency_purge(*, batch_size: int = 5000) -> int:
    """Delete answers older than IDEMPOTENCY_TTL_HOURS, in batches. Returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
