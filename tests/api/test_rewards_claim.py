"""Claiming a reward over HTTP in a customer's-choice program.

Issue 3: in customer's-choice programs the integrator redeems a reward for the
member with ``POST /api/v1/members/{external_id}/rewards {threshold}`` (scope
orders or manage): 201 with the coupon and the new balance; 422
``rewards_automatic`` in automatic programs, 404 ``reward_not_found``, 422
``insufficient_points``.
"""

import pytest

from loyalty.models import LedgerEntry, Program
from loyalty.services.points import points_grant
from rewards.models import Coupon
from rewards.services.thresholds import thresholds_replace
from tests.factories import MemberFactory, ProgramFactory


def rewards_url(external_id: str) -> str:
    return f"/api/v1/members/{external_id}/rewards"


@pytest.fixture
def choice(program):
    """A customer's-choice program with rewards at 500 (10%) and 1000 points (15.00 off)."""
    Program.objects.filter(pk=program.pk).update(conversion_mode=Program.ConversionMode.CHOICE)
    program.refresh_from_db()
    thresholds_replace(
        program=program,
        thresholds=[
            {"points": 500, "coupon": {"kind": "percent", "value": "10"}},
            {"points": 1000, "coupon": {"kind": "fixed", "value": "15", "valid_days": 60}},
        ],
    )
    return program


@pytest.fixture
def saver(choice):
    """A member of the choice program with 1200 points (nothing converted on its own)."""
    member = MemberFactory(program=choice)
    points_grant(program=choice, member_external_id=member.external_id, points=1200, reason="x")
    member.refresh_from_db()
    assert member.balance == 1200
    return member


def claim(api, member, threshold, **extra):
    return api.post(rewards_url(member.external_id), {"threshold": threshold}, format="json",
                    **extra)  # fmt: skip


def test_claim_converts_points_into_the_reward_coupon(api, saver):
    response = claim(api, saver, 1000)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["balance"] == 200
    coupon = body["coupon"]
    assert (coupon["kind"], coupon["value"], coupon["currency"]) == ("fixed", "15.00", "EUR")
    assert (coupon["member"], coupon["source"], coupon["status"]) == (
        saver.external_id,
        "reward",
        "active",
    )
    saver.refresh_from_db()
    assert saver.balance == 200
    stored = Coupon.objects.get()
    assert stored.display_code == coupon["code"]
    assert stored.points_spent == 1000


def test_the_claim_shows_in_the_ledger_with_its_coupon(api, saver):
    code = claim(api, saver, 500).json()["coupon"]["code"]

    entries = api.get(f"/api/v1/members/{saver.external_id}/ledger").json()["results"]

    assert (entries[0]["kind"], entries[0]["points"], entries[0]["balance_after"]) == (
        "reward",
        -500,
        700,
    )
    assert entries[0]["coupon"] == code


def test_claims_until_the_points_run_out(api, saver):
    assert claim(api, saver, 500).status_code == 201
    assert claim(api, saver, 500).status_code == 201

    response = claim(api, saver, 500)

    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_points"
    assert response.json()["detail"]
    assert Coupon.objects.count() == 2
    saver.refresh_from_db()
    assert saver.balance == 200


def test_claim_in_an_automatic_program_is_422_rewards_automatic(api, member):
    thresholds_replace(
        program=member.program,
        thresholds=[{"points": 500, "coupon": {"kind": "percent", "value": "10"}}],
    )

    response = claim(api, member, 500)

    assert response.status_code == 422
    assert response.json()["code"] == "rewards_automatic"
    assert response.json()["detail"]
    assert not Coupon.objects.exists()


def test_claim_of_a_threshold_the_program_lacks_is_404_reward_not_found(api, saver):
    response = claim(api, saver, 700)

    assert response.status_code == 404
    assert response.json()["code"] == "reward_not_found"
    assert "700" in response.json()["detail"]
    saver.refresh_from_db()
    assert saver.balance == 1200


def test_claim_for_an_unknown_member_is_404(api, choice):
    response = api.post(rewards_url("nobody"), {"threshold": 500}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


@pytest.mark.parametrize(
    "body", [{}, {"threshold": "many"}, {"threshold": 0}, {"threshold": -500},
             {"threshold": 1.5}, {"threshold": None}],
)  # fmt: skip
def test_claim_with_a_bad_threshold_is_400(api, saver, body):
    response = api.post(rewards_url(saver.external_id), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "threshold" in response.json()["fields"]
    assert not Coupon.objects.exists()


@pytest.mark.parametrize(("scopes", "status"), [("orders", 201), ("manage", 201),
                                                ("checkout", 403)])  # fmt: skip
def test_claim_scopes(api_for, saver, scopes, status):
    response = claim(api_for(saver.program, scopes), saver, 500)

    assert response.status_code == status


def test_claim_with_an_idempotency_key_converts_once(api, saver):
    key = {"HTTP_IDEMPOTENCY_KEY": "claim-1"}

    first = claim(api, saver, 500, **key)
    again = claim(api, saver, 500, **key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Coupon.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="reward").count() == 1


def test_claim_never_reaches_another_merchants_member(api, choice):
    other = MemberFactory(program=ProgramFactory(), external_id="shared")
    points_grant(program=other.program, member_external_id="shared", points=900, reason="x")

    response = api.post(rewards_url("shared"), {"threshold": 500}, format="json")

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.balance == 900


def test_orders_in_a_choice_program_issue_no_coupons(api, choice):
    body = {"external_id": "A-1", "member": "cust-1", "amount": "200.00", "currency": "EUR"}

    response = api.post("/api/v1/orders", body, format="json")

    assert response.json()["coupons_issued"] == []
    assert response.json()["balance"] == 2000
    member = api.get("/api/v1/members/cust-1").json()
    assert member["next_reward"] is None  # every reward is within reach: nothing is "next"
