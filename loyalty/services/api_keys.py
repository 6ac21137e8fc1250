"""Integrator API keys: shown once, stored as a sha256, scoped, revocable."""

import hashlib
import secrets

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import ApiKey, Merchant

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


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The live key with this secret, with its merchant and program loaded, or None."""
    key = (
        ApiKey.objects.select_related("merchant__program")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True)
        .first()
    )
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
