"""A merchant's webhook endpoints, as its managers add, change, delete and re-key them.

Invariants:
- Only a manager of the endpoint's merchant (or a superuser) may write here; viewers and
  support staff are refused (``role_forbidden``), staff of another merchant too
  (``merchant_forbidden``).
- A signing secret is handed out once: by ``webhook_endpoint_save`` when the endpoint is
  made and by ``webhook_secret_rotate``; nothing else shows it (the backoffice shows its
  last characters, ``webhook_secret_hint``), so a receiver that lost it gets a new one.
- An endpoint listens to at least one event (``validation_error`` on ``events``).
- Every change is in the audit trail, in its transaction: the URL, events and active
  flag before and after, and for a secret only its hint, never the secret itself.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.audit import Action, audit_changes, audit_record
from loyalty.errors import InvalidInput
from loyalty.models import User
from loyalty.roles import Permission, role_check
from notifications.models import WebhookEndpoint, webhook_secret_new

FIELDS = ("url", "events", "active")
HINT_LENGTH = 4


def webhook_secret_hint(secret: str) -> str:
    """What staff may see of a secret to tell which one a receiver holds: its end."""
    return f"…{secret[-HINT_LENGTH:]}" if secret else ""


def _checked(endpoint: WebhookEndpoint) -> None:
    fields: dict[str, list[str]] = {}
    try:
        endpoint.full_clean(exclude=["secret"])
    except ValidationError as error:
        fields = {name: [str(m) for m in messages] for name, messages in error.message_dict.items()}
    if not endpoint.events and "events" not in fields:
        # An endpoint with no event would never be called: a mistake, not a setting.
        fields["events"] = [str(_("Choose at least one event to send to this endpoint."))]
    if fields:
        raise InvalidInput(fields)


@transaction.atomic
def webhook_endpoint_save(*, endpoint: WebhookEndpoint, actor: User | None) -> WebhookEndpoint:
    """Add an endpoint (with a new secret: read it from the result, once) or change its URL,
    events or active flag; the secret is never changed here."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=endpoint.merchant_id)
    stored: dict[str, Any] | None = None
    if endpoint.pk is not None:
        stored = (
            WebhookEndpoint.objects.select_for_update()
            .filter(pk=endpoint.pk)
            .values("merchant_id", *FIELDS)
            .first()
        )
    if stored is not None:
        # Nor may a change move an endpoint from or to another merchant.
        role_check(user=actor, permission=Permission.MANAGE, merchant_id=stored["merchant_id"])
    _checked(endpoint)
    if stored is None:
        endpoint.secret = webhook_secret_new()
        endpoint.save()
        changes = audit_changes({}, {name: getattr(endpoint, name) for name in FIELDS})
        changes["secret"] = [None, webhook_secret_hint(endpoint.secret)]
        _audit(endpoint, Action.WEBHOOK_CREATE, changes, actor)
        return endpoint
    endpoint.save(update_fields=["merchant", *FIELDS])
    changes = audit_changes(stored, {name: getattr(endpoint, name) for name in FIELDS})
    if stored["merchant_id"] != endpoint.merchant_id:
        changes["merchant"] = [stored["merchant_id"], endpoint.merchant_id]
    if changes:
        _audit(endpoint, Action.WEBHOOK_UPDATE, changes, actor)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Remove an endpoint and its delivery log."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=endpoint.merchant_id)
    stored = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if stored is None:
        return  # already gone
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=stored.merchant_id)
    changes = audit_changes({name: getattr(stored, name) for name in FIELDS}, dict.fromkeys(FIELDS))
    changes["secret"] = [webhook_secret_hint(stored.secret), None]
    _audit(stored, Action.WEBHOOK_DELETE, changes, actor)
    stored.delete()


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: User | None) -> str:
    """Give the endpoint a new signing secret and return it (to show once). Deliveries are
    signed with the new one from now on; the old one stops working at once."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=endpoint.merchant_id)
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=locked.merchant_id)
    old = locked.secret
    locked.secret = webhook_secret_new()
    locked.save(update_fields=["secret"])
    endpoint.secret = locked.secret
    _audit(
        locked,
        Action.WEBHOOK_ROTATE,
        {"secret": [webhook_secret_hint(old), webhook_secret_hint(locked.secret)]},
        actor,
    )
    return locked.secret


def _audit(
    endpoint: WebhookEndpoint, action: str, changes: dict[str, Any], actor: User | None
) -> None:
    audit_record(
        merchant=endpoint.merchant_id,
        actor=actor,
        action=action,
        target=endpoint,
        changes=changes,
    )
