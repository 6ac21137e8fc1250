"""Integrator API keys: shown once, stored as a sha256, scoped, revocable."""

import hashlib
import secrets
from functools import cache

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import ApiKey, Merchant, Program
from loyalty.storage import sql

KEY_PREFIX = "lk_"


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(
    *, merchant: Merchant, scopes: list[str], name: str = "API key", raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """Make a key; returns it with its secret, which is never stored nor shown again.

    ``raw_key`` is only for the demo data, whose key is printed in the README.
    """
    valid = set(ApiKey.Scope.values)
    scopes = sorted({scope.strip() for scope in scopes if scope.strip()})
    if not scopes or not set(scopes) <= valid:
        raise InvalidInput({"scopes": [str(_("Choose among: %s.")) % ", ".join(sorted(valid))]})
    raw_key = raw_key or KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        merchant=merchant,
        name=name,
        prefix=raw_key[:10],
        key_hash=api_key_hash(raw_key),
        scopes=scopes,
    )
    return key, raw_key


# Every API request looks its key up, with the merchant and the program the services need.
# Django would build the same three-table statement anew each time, which takes longer than
# the database takes to answer it; so it is built once per process from the models' fields
# (``loyalty.storage.sql``), and its row is turned into the three models as the ORM does, with the
# relations cached both ways like select_related.
_LOADED = ((ApiKey, "k"), (Merchant, "m"), (Program, "p"))


@cache
def _lookup_statement() -> str:
    # Identifiers of our models only; the hash is a parameter.
    return (
        f"SELECT {', '.join(sql.columns(model, table) for model, table in _LOADED)}"  # noqa: S608
        f" FROM {sql.quote(ApiKey._meta.db_table)} k"
        f" INNER JOIN {sql.quote(Merchant._meta.db_table)} m"
        f" ON m.{sql.column(Merchant, 'id')} = k.{sql.column(ApiKey, 'merchant')}"
        f" LEFT OUTER JOIN {sql.quote(Program._meta.db_table)} p"
        f" ON p.{sql.column(Program, 'merchant')} = m.{sql.column(Merchant, 'id')}"
        f" WHERE k.{sql.column(ApiKey, 'key_hash')} = %s"
        f" AND k.{sql.column(ApiKey, 'revoked_at')} IS NULL"
    )


def _live_key(key_hash: str) -> ApiKey | None:
    """``ApiKey.objects.select_related("merchant__program").filter(key_hash=..., revoked_at=None)``
    (key_hash is unique), from the statement built once."""
    rows = sql.run(_lookup_statement(), [key_hash])  # prepared by PostgreSQL once a connection
    if not rows:
        return None
    row = rows[0]
    loaded: list[Model | None] = []
    start = 0
    for model, _table in _LOADED:
        width = len(model._meta.concrete_fields)
        values = row[start : start + width]
        start += width
        # The left-joined program is missing: its pk (the first column) is null.
        loaded.append(None if values[0] is None else sql.load(model, values))
    key, merchant, program = loaded
    assert isinstance(key, ApiKey)
    assert isinstance(merchant, Merchant)
    ApiKey.merchant.field.set_cached_value(key, merchant)
    Merchant.program.related.set_cached_value(merchant, program)
    if program is not None:
        Program.merchant.field.set_cached_value(program, merchant)
    return key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The live key with this secret, with its merchant and program loaded, or None.

    One query each time: a revoked key is refused from the next request on.
    """
    key = _live_key(api_key_hash(raw_key))
    if key is not None:
        now = timezone.now()
        # Touch at most once a minute, so reads stay reads.
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def api_key_revoke(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke the live keys among ``keys`` (already scoped by the caller); returns how many.

    A revoked key stays on record, with when it was last used.
    """
    return keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
