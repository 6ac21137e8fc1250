"""The webhook payloads are one thing in three places: what the platform sends, the schemas in
the OpenAPI document (``Webhook<Event>``, ``x-webhooks``) and the guide (docs/api/webhooks.md):
the guide's tables name the schema's fields, its examples are the schema's and valid for it,
and real deliveries are valid for the document of their program's currency."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from loyalty.api.schema_webhooks import component_name
from notifications.models import WebhookDelivery, WebhookEvent
from tests.api.test_money_out import CASES, make_shop, run_the_shop
from tests.api.test_schema_docs import resolve

# own_cache: the coupon-guess counters of earlier tests (the fuzz test) do not reach these.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_cache")]

GUIDE = Path(settings.BASE_DIR) / "docs" / "api" / "webhooks.md"


def document(currency: str | None = None) -> dict:
    query = {"format": "json", **({"currency": currency} if currency else {})}
    response = APIClient().get("/api/v1/schema/", query)
    assert response.status_code == 200
    return response.json()


def guide_section(event: str) -> str:
    text = GUIDE.read_text()
    start = text.index(f"### `{event}`")
    end = text.find("\n### ", start + 1)
    return text[start : end if end != -1 else len(text)]


def guide_fields(event: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", guide_section(event), flags=re.M)


def guide_example(event: str) -> dict:
    (example,) = re.findall(r"```json\n(.*?)```", guide_section(event), flags=re.S)
    return json.loads(example)


def payload_schema(doc: dict, event: str) -> dict:
    return resolve(doc, doc["x-webhooks"][event])


@pytest.mark.parametrize("event", WebhookEvent.values)
def test_the_guide_shows_the_schemas_fields_and_example(event):
    doc = document("EUR")
    schema = doc["components"]["schemas"][component_name(event)]

    assert guide_fields(event) == list(schema["properties"])
    assert guide_example(event) == schema["example"]
    jsonschema.validate(guide_example(event), payload_schema(doc, event))
    assert set(schema["required"]) <= set(schema["properties"])


def test_every_event_and_the_envelope_are_in_the_document():
    doc = document()

    assert set(doc["x-webhooks"]) == set(WebhookEvent.values)
    assert set(doc["components"]["schemas"]["WebhookDelivery"]["required"]) == {
        "id", "event", "created_at", "data"
    }  # fmt: skip


def test_an_amount_with_more_decimals_than_the_currency_is_not_a_valid_payload():
    doc = document("EUR")
    example = {**guide_example("order_recorded"), "amount": "129.900"}

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, payload_schema(doc, "order_recorded"))


@pytest.mark.parametrize(("currency", "amount", "fixed", "minimum"), CASES)
def test_real_deliveries_are_valid_for_their_currencys_document(currency, amount, fixed, minimum):
    program, client = make_shop(currency)
    run_the_shop(client, currency, amount, fixed, minimum)
    doc = document(currency)

    rows = list(WebhookDelivery.objects.filter(endpoint__merchant=program.merchant))
    assert {row.event for row in rows} >= {
        "order_recorded", "points_earned", "reward_issued", "coupon_redeemed"
    }  # fmt: skip
    for row in rows:
        schema = payload_schema(doc, row.event)
        jsonschema.validate(row.payload, schema)
        assert set(row.payload) <= set(schema["properties"]), row.event  # none undocumented
