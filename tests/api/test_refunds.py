"""Refunds over HTTP: points come back in proportion, never more than the order earned.

API.md, Orders: POST /orders/{external_id}/refunds {external_id, amount} → 201
{refund, points_reversed, balance}.
"""

import pytest

from loyalty.models import LedgerEntry, Member, Order, Refund


def refund_url(order: str = "A-1") -> str:
    return f"/api/v1/orders/{order}/refunds"


@pytest.fixture
def order(api, program):
    """Order A-1 of 100.00 EUR for ``cust-1``: 1000 points."""
    body = {"external_id": "A-1", "member": "cust-1", "amount": "100.00", "currency": "EUR"}
    response = api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 201
    return Order.objects.get(external_id="A-1")


def refund(api, external_id: str, amount, order: str = "A-1"):
    return api.post(
        refund_url(order), {"external_id": external_id, "amount": amount}, format="json"
    )


def balance() -> int:
    return Member.objects.get(external_id="cust-1").balance


def test_refund_is_201_with_the_refund_the_points_reversed_and_the_balance(api, order):
    response = refund(api, "R-1", "25.00")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points_reversed"] == 250
    assert body["balance"] == 750
    assert body["refund"]["external_id"] == "R-1"
    assert body["refund"]["order"] == "A-1"
    assert body["refund"]["amount"] == "25.00"
    assert body["refund"]["currency"] == "EUR"
    assert body["refund"]["points_reversed"] == 250
    assert balance() == 750


@pytest.mark.parametrize(
    ("amount", "points"),
    [("100.00", 1000), ("50.00", 500), ("33.33", 333), ("0.09", 0), ("0.10", 1), ("99.99", 999)],
)
def test_refund_reverses_points_in_proportion(api, order, amount, points):
    response = refund(api, "R-1", amount)

    assert response.status_code == 201, response.content
    assert response.json()["points_reversed"] == points
    assert balance() == 1000 - points


def test_refund_reverses_at_the_rate_the_order_earned_not_todays(api, order, program):
    program.earn_rate = 1
    program.save()

    response = refund(api, "R-1", "50.00")

    assert response.json()["points_reversed"] == 500


def test_partial_refunds_add_up_to_exactly_what_the_order_earned(api, program):
    api.post(
        "/api/v1/orders",
        {"external_id": "A-1", "member": "cust-1", "amount": "10.00", "currency": "EUR"},
        format="json",
    )

    reversed_points = [
        refund(api, f"R-{n}", amount).json()["points_reversed"]
        for n, amount in enumerate(["3.33", "3.33", "3.33", "0.01"])
    ]

    assert sum(reversed_points) == 100
    assert balance() == 0
    order = api.get("/api/v1/orders/A-1").json()
    assert order["status"] == "refunded"
    assert order["points_reversed"] == 100
    assert order["refunded_amount"] == "10.00"


def test_partial_refund_marks_the_order_partially_refunded(api, order):
    refund(api, "R-1", "40.00")

    response = api.get("/api/v1/orders/A-1")

    assert response.json()["status"] == "partially_refunded"
    assert response.json()["refunded_amount"] == "40.00"


@pytest.mark.parametrize(
    ("earlier", "amount"),
    [([], "100.01"), ([], "1000"), (["60.00"], "40.01"), (["100.00"], "0.01")],
)
def test_refund_beyond_the_order_is_422_refund_exceeds_order_and_changes_nothing(
    api, order, earlier, amount
):
    for n, earlier_amount in enumerate(earlier):
        assert refund(api, f"E-{n}", earlier_amount).status_code == 201
    before = (balance(), Refund.objects.count(), LedgerEntry.objects.count())

    response = refund(api, "R-1", amount)

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "refund_exceeds_order"
    assert set(response.json()) == {"code", "detail"}
    assert (balance(), Refund.objects.count(), LedgerEntry.objects.count()) == before


def test_refund_of_unknown_order_is_404_order_not_found(api, order):
    response = refund(api, "R-1", "1.00", order="nope")

    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert not Refund.objects.exists()


def test_the_same_refund_again_is_200_with_the_first_answer(api, order):
    first = refund(api, "R-1", "25.00")

    again = refund(api, "R-1", "25.0")

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert balance() == 750
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1


def test_the_same_refund_of_the_whole_order_again_is_still_a_replay(api, order):
    refund(api, "R-1", "100.00")

    again = refund(api, "R-1", "100.00")

    assert again.status_code == 200
    assert balance() == 0


def test_the_same_refund_id_with_another_amount_is_409_refund_conflict(api, order):
    refund(api, "R-1", "25.00")

    response = refund(api, "R-1", "30.00")

    assert response.status_code == 409
    assert response.json()["code"] == "refund_conflict"
    assert balance() == 750
    assert Refund.objects.count() == 1


def test_the_same_refund_id_on_another_order_is_another_refund(api, order):
    api.post(
        "/api/v1/orders",
        {"external_id": "A-2", "member": "cust-1", "amount": "10.00", "currency": "EUR"},
        format="json",
    )
    refund(api, "R-1", "25.00")

    response = refund(api, "R-1", "5.00", order="A-2")

    assert response.status_code == 201
    assert response.json()["points_reversed"] == 50


@pytest.mark.parametrize(
    "amount",
    ["0", "0.00", "-1.00", -5, "NaN", "Infinity", "abc", "", None, "12.345", "1e30"],
)
def test_invalid_refund_amount_is_400_and_changes_nothing(api, order, amount):
    response = refund(api, "R-1", amount)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert "amount" in response.json()["fields"]
    assert balance() == 1000
    assert not Refund.objects.exists()


@pytest.mark.parametrize("body", [{"amount": "1.00"}, {"external_id": "", "amount": "1.00"}])
def test_refund_without_an_external_id_is_400(api, order, body):
    response = api.post(refund_url(), body, format="json")

    assert response.status_code == 400
    assert "external_id" in response.json()["fields"]
    assert not Refund.objects.exists()


def test_refund_in_another_currency_is_422_currency_mismatch(api, order):
    response = api.post(
        refund_url(), {"external_id": "R-1", "amount": "1.00", "currency": "USD"}, format="json"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "currency_mismatch"
    assert not Refund.objects.exists()


def test_refund_after_the_points_were_spent_leaves_a_negative_balance_and_says_why(api, order):
    spent = api.post(
        "/api/v1/members/cust-1/grants", {"points": -800, "reason": "Redeemed"}, format="json"
    )
    assert spent.status_code == 201

    response = refund(api, "R-1", "100.00")

    assert response.status_code == 201, response.content
    assert response.json()["points_reversed"] == 1000
    assert response.json()["balance"] == -800
    assert api.get("/api/v1/members/cust-1").json()["balance"] == -800
    newest = api.get("/api/v1/members/cust-1/ledger").json()["results"][0]
    assert (newest["kind"], newest["points"], newest["balance_after"]) == ("reversal", -1000, -800)
    assert newest["order"] == "A-1"
    assert "800" in newest["reason"]
    assert "spent" in newest["reason"]


def test_new_points_pay_back_a_negative_balance_first(api, order):
    api.post("/api/v1/members/cust-1/grants", {"points": -800, "reason": "Redeemed"}, format="json")
    refund(api, "R-1", "100.00")

    response = api.post(
        "/api/v1/orders",
        {"external_id": "A-2", "member": "cust-1", "amount": "100.00", "currency": "EUR"},
        format="json",
    )

    assert response.json()["balance"] == 200


def test_no_deduction_is_possible_while_the_balance_is_negative(api, order):
    api.post("/api/v1/members/cust-1/grants", {"points": -800, "reason": "Redeemed"}, format="json")
    refund(api, "R-1", "100.00")

    response = api.post(
        "/api/v1/members/cust-1/grants", {"points": -1, "reason": "More"}, format="json"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_points"
    assert balance() == -800
