"""The webhooks reference (docs/api/webhooks.md) is right: its Python and JavaScript code
accept a real signed delivery and refuse a tampered, re-signed or stale one; its events are
the platform's; and the guides are served as pages the reference links to."""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from notifications.models import WebhookEndpoint, WebhookEvent
from tests.notifications.test_webhooks import Receiver

pytestmark = pytest.mark.django_db

GUIDE = Path(settings.BASE_DIR) / "docs" / "api" / "webhooks.md"


def snippet(language: str) -> str:
    (code,) = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return code


def python_verify():
    namespace: dict = {}
    exec(snippet("python"), namespace)  # noqa: S102 - our own documentation's code
    return namespace["verify"]


def js_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The JavaScript snippet run by Node, on the headers as Node gives them (lower case)."""
    harness = snippet("javascript") + (
        "\nconst input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(String(verify(input.secret, input.headers, "
        "Buffer.from(input.body, 'base64'))));\n"
    )
    import base64

    payload = {
        "secret": secret,
        "headers": {name.lower(): value for name, value in headers.items()},
        "body": base64.b64encode(body).decode(),
    }
    result = subprocess.run(  # noqa: S603 - a fixed program and our own snippet
        [shutil.which("node") or "node", "-e", harness],
        input=json.dumps(payload), capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout == "true"


@pytest.fixture
def delivery(api, program, django_capture_on_commit_callbacks):
    """A real delivery of an order's event, as the receiver got it, and the secret."""
    with Receiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(
            merchant=program.merchant, url=receiver.url, events=["order_recorded"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/v1/orders", {"external_id": "ORD-1001",
                                "member": "cus_1042", "amount": "129.90", "currency": "EUR"},
                                format="json")  # fmt: skip
        assert response.status_code == 201
        (request,) = receiver.requests
    return endpoint.secret, request["headers"], request["body"]


VERIFIERS = [pytest.param(lambda: python_verify(), id="python")]
if shutil.which("node"):
    VERIFIERS.append(pytest.param(lambda: js_verify, id="javascript"))


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_the_documented_code_accepts_a_real_delivery(delivery, verifier):
    secret, headers, body = delivery

    assert verifier()(secret, headers, body) is True
    assert json.loads(body)["event"] == "order_recorded"


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_the_documented_code_refuses_what_was_not_signed_so(delivery, verifier):
    secret, headers, body = delivery
    verify = verifier()
    stale = {**headers, "X-Loyalty-Timestamp": str(int(time.time()) - 3600)}

    assert verify(secret, headers, body.replace(b"129.9", b"929.9")) is False  # tampered
    assert verify("another-secret", headers, body) is False
    assert verify(secret, stale, body) is False  # an old delivery replayed
    assert verify(secret, {**headers, "X-Loyalty-Signature": "sha256=00"}, body) is False


def test_every_event_is_documented_with_its_payload():
    text = GUIDE.read_text()

    for event in WebhookEvent.values:
        assert f"### `{event}`" in text, event
    assert "X-Loyalty-Delivery" in text
    assert "X-Loyalty-Signature" in text


@pytest.mark.parametrize(("name", "heading"), [("quickstart", "Quick start"),
                                               ("webhooks", "Webhooks")])  # fmt: skip
def test_the_guides_are_served_without_a_key(db, name, heading):
    response = APIClient().get(f"/api/docs/{name}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert 'href="/api/docs/"' in html
    assert "<script" not in html  # nothing for the Content-Security-Policy to refuse


def test_an_unknown_guide_is_not_found(db):
    assert APIClient().get("/api/docs/secrets/").status_code == 404


def test_raw_html_in_a_guide_is_shown_as_text(tmp_path, monkeypatch):
    from loyalty.api import guides

    (tmp_path / "quickstart.md").write_text("# Hi\n\n<script>alert(1)</script>\n")
    monkeypatch.setattr(guides, "GUIDES_DIR", tmp_path)

    html = guides.guide_html("quickstart")

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
