"""/api/v1/orders/quote and /batch are endpoints: no order may be named so, or it could never
be read back by its id."""

import pytest

from loyalty.models import Order


@pytest.mark.parametrize("name", ["quote", "batch"])
def test_an_order_named_like_an_endpoint_is_refused(api, name):
    body = {"external_id": name, "member": "m-1", "amount": "10.00", "currency": "EUR"}

    response = api.post("/api/v1/orders", body, format="json")
    quote = api.post("/api/v1/orders/quote", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "names an API endpoint" in response.json()["fields"]["external_id"][0]
    assert quote.status_code == 400
    assert not Order.objects.exists()


def test_a_member_may_still_be_called_quote(api):
    body = {"external_id": "A-1", "member": "quote", "amount": "10.00", "currency": "EUR"}
    assert api.post("/api/v1/orders", body, format="json").status_code == 201
