"""A test event sent on demand to one webhook endpoint, so a manager sees at once whether the
receiver gets, verifies and accepts what we send.

Invariants:
- It goes through the real sender (``webhook_request`` / ``webhook_open``): signed with the
  endpoint's secret, the same headers, netguard's address checks, no redirect followed. So
  a test that passes means a real delivery would pass.
- Only a manager of the endpoint's merchant (or a superuser) may send one; every attempt is
  in the audit trail with what the receiver answered.
- Nothing is queued or retried and no delivery row is written: the event is ``"test"``,
  which receivers can tell from real ones, and its ``X-Loyalty-Delivery`` starts with
  ``test-`` (never a delivery id).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from loyalty.audit import Action, audit_record
from loyalty.models import User
from loyalty.roles import Permission, role_check
from notifications.models import WebhookEndpoint
from notifications.services.webhooks import webhook_open, webhook_request

TEST_EVENT = "test"
# How much of the receiver's answer the page shows and the audit trail keeps.
ANSWER_CHARS = 300


@dataclass(frozen=True)
class WebhookTestResult:
    """What the receiver answered: a status code and the start of its body, or the error
    that kept the request from being answered (connection refused, refused address...)."""

    status_code: int | None
    answer: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_test_send(*, endpoint: WebhookEndpoint, actor: User) -> WebhookTestResult:
    """POST a signed ``test`` event to the endpoint now and return what came back."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=endpoint.merchant_id)
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)  # the URL and secret as saved
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=stored.merchant_id)
    delivery = f"test-{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "id": delivery,
            "event": TEST_EVENT,
            "created_at": timezone.now().isoformat(),
            "data": {"message": "A test event sent from the backoffice.", "test": True},
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    ).encode()
    request = webhook_request(
        url=stored.url, secret=stored.secret, event=TEST_EVENT, delivery=delivery, body=body
    )
    result = _send(request)
    audit_record(
        merchant=stored.merchant_id,
        actor=actor,
        action=Action.WEBHOOK_TEST,
        target=stored,
        changes={
            "url": stored.url,
            "status_code": result.status_code,
            "answer": result.answer,
            "error": result.error,
        },
    )
    return result


def _send(request: urllib.request.Request) -> WebhookTestResult:
    try:
        with webhook_open(request) as response:
            return WebhookTestResult(response.status, _start(response.read(ANSWER_CHARS)), "")
    except urllib.error.HTTPError as error:
        return WebhookTestResult(error.code, _start(error.read(ANSWER_CHARS)), "")
    except Exception as error:  # the receiver's problem to report, not ours to raise
        reason = getattr(error, "reason", None) or error
        return WebhookTestResult(None, "", f"{type(error).__name__}: {reason}"[:ANSWER_CHARS])


def _start(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:ANSWER_CHARS]
