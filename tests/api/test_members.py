"""Members over HTTP: profile upsert and read, the ledger with its cursor, grants and deductions.

API.md, Members: PUT creates (201) or updates (200); GET has the summary shape;
the ledger is newest first and cursor-paginated; a grant needs a reason and
never takes the balance below zero (422 insufficient_points).
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import LedgerEntry, Member
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from tests.factories import MemberFactory

SUMMARY_FIELDS = {
    "external_id", "email", "name", "locale", "balance", "tier", "points_expire_at",
    "next_reward", "next_tier",
}  # fmt: skip
ENTRY_FIELDS = {"id", "kind", "points", "balance_after", "reason", "order", "coupon", "created_at"}


def member_url(external_id: str, sub: str = "") -> str:
    return f"/api/v1/members/{external_id}{sub}"


def earn(program, member_external_id: str, count: int) -> None:
    """``count`` orders of 1.00 EUR (10 points each) for the member, oldest first."""
    for n in range(count):
        order_record(
            program=program,
            external_id=f"{member_external_id}-order-{n}",
            member_external_id=member_external_id,
            amount=Decimal("1.00"),
            currency="EUR",
        )


def assert_validation_error(response, *fields: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body) == {"code", "detail", "fields"}
    for name in fields:
        assert name in body["fields"]
        assert all(isinstance(problem, str) and problem for problem in body["fields"][name])


# --- profile -------------------------------------------------------------------------------


def test_put_creates_a_member_then_updates_it(api, program):
    created = api.put(
        member_url("cust-9"),
        {
            "email": "ann@example.com",
            "name": "Ann",
            "locale": "es",
            "consent": {"email": True, "push": False},
        },
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "cust-9"
    assert created.json()["email"] == "ann@example.com"
    assert created.json()["balance"] == 0

    updated = api.put(
        member_url("cust-9"),
        {
            "email": "ann@example.org",
            "name": "Ann B.",
            "locale": "tr",
            "consent": {"email": False, "push": True},
        },
        format="json",
    )

    assert updated.status_code == 200, updated.content
    body = updated.json()
    assert (body["email"], body["name"], body["locale"]) == ("ann@example.org", "Ann B.", "tr")
    member = Member.objects.get(program=program, external_id="cust-9")
    assert (member.email, member.name, member.locale) == ("ann@example.org", "Ann B.", "tr")
    assert (member.consent_email, member.consent_push) == (False, True)
    assert Member.objects.filter(program=program).count() == 1


def test_put_does_not_touch_the_balance(api, program):
    earn(program, "cust-9", 2)

    response = api.put(member_url("cust-9"), {"name": "Ann"}, format="json")

    assert response.status_code == 200
    assert response.json()["balance"] == 20
    assert Member.objects.get(external_id="cust-9").balance == 20


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"locale": "xx"}, "locale"),
        ({"locale": ""}, "locale"),
        ({"locale": None}, "locale"),
        ({"name": "n" * 201}, "name"),
        ({"consent": {"email": "maybe"}}, "consent"),
        ({"consent": "yes"}, "consent"),
    ],
)
def test_put_with_invalid_fields_is_400_and_creates_nothing(api, program, body, field):
    response = api.put(member_url("cust-9"), body, format="json")

    assert_validation_error(response, field)
    assert not Member.objects.filter(external_id="cust-9").exists()


def test_put_with_invalid_fields_leaves_an_existing_member_unchanged(api, member):
    response = api.put(member_url(member.external_id), {"email": "nope"}, format="json")

    assert_validation_error(response, "email")
    old_email = member.email
    member.refresh_from_db()
    assert member.email == old_email


def test_put_with_an_external_id_over_191_chars_is_400(api, program):
    response = api.put(member_url("m" * 192), {"email": "a@example.com"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("method", "sub", "body"),
    [
        ("get", "", None),
        ("get", "/ledger", None),
        ("post", "/grants", {"points": 1, "reason": "x"}),
    ],
)
def test_reads_and_grants_with_an_overlong_external_id_are_404(api, program, method, sub, body):
    response = getattr(api, method)(member_url("m" * 192, sub), body, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_get_member_has_the_contract_shape(api, member):
    earn(member.program, member.external_id, 3)

    response = api.get(member_url(member.external_id))

    assert response.status_code == 200
    body = response.json()
    assert SUMMARY_FIELDS <= set(body)
    assert body["external_id"] == member.external_id
    assert body["email"] == member.email
    assert body["name"] == member.name
    assert body["locale"] == "en"
    assert body["balance"] == 30
    assert body["tier"] is None or isinstance(body["tier"], str)
    assert isinstance(body["points_expire_at"], str)
    if body["next_reward"] is not None:
        assert set(body["next_reward"]) >= {"threshold", "points_missing"}
    if body["next_tier"] is not None:
        assert set(body["next_tier"]) >= {"name", "points_missing"}


def test_get_unknown_member_is_404_member_not_found(api, program):
    response = api.get(member_url("nobody"))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert set(response.json()) == {"code", "detail"}


# --- ledger --------------------------------------------------------------------------------


def test_ledger_lists_entries_newest_first_with_their_origin(api, program):
    earn(program, "cust-9", 1)
    api.post(member_url("cust-9", "/grants"), {"points": 7, "reason": "Sorry"}, format="json")
    api.post(
        "/api/v1/orders/cust-9-order-0/refunds",
        {"external_id": "R-1", "amount": "1.00"},
        format="json",
    )

    response = api.get(member_url("cust-9", "/ledger"))

    assert response.status_code == 200
    entries = response.json()["results"]
    assert response.json()["next"] is None
    assert all(ENTRY_FIELDS <= set(entry) for entry in entries)
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("reversal", -10, 7),
        ("grant", 7, 17),
        ("earn", 10, 10),
    ]
    assert [e["order"] for e in entries] == ["cust-9-order-0", None, "cust-9-order-0"]
    assert [e["coupon"] for e in entries] == [None, None, None]
    assert entries[1]["reason"] == "Sorry"
    assert all(entry["reason"] for entry in entries)
    ids = [entry["id"] for entry in entries]
    assert ids == sorted(ids, reverse=True)


def test_ledger_of_unknown_member_is_404_member_not_found(api, program):
    response = api.get(member_url("nobody", "/ledger"))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_ledger_cursor_pages_through_every_entry_exactly_once(api, program):
    earn(program, "cust-9", 120)
    url = member_url("cust-9", "/ledger?limit=50")
    seen: list[int] = []
    pages = 0

    while url is not None:
        response = api.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        assert set(page) >= {"results", "next"}
        seen += [entry["id"] for entry in page["results"]]
        url = page["next"]
        pages += 1

    assert pages == 3
    assert len(seen) == 120
    assert seen == sorted(set(seen), reverse=True)
    assert set(seen) == set(LedgerEntry.objects.values_list("id", flat=True))


@pytest.mark.parametrize("cursor", ["garbage", "bz1hYmM="])  # not base64; offset "abc"
def test_ledger_with_a_bad_cursor_is_a_4xx_in_the_error_shape(api, program, cursor):
    earn(program, "cust-9", 1)

    response = api.get(member_url("cust-9", f"/ledger?cursor={cursor}"))

    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"code", "detail"}


def test_ledger_limit_is_capped_and_bad_limits_fall_back_to_the_default(api, program):
    earn(program, "cust-9", 60)

    assert len(api.get(member_url("cust-9", "/ledger?limit=10")).json()["results"]) == 10
    assert len(api.get(member_url("cust-9", "/ledger?limit=abc")).json()["results"]) == 50
    assert len(api.get(member_url("cust-9", "/ledger?limit=-5")).json()["results"]) == 50


def test_ledger_page_costs_the_same_queries_for_10_or_100_entries(api, program):
    earn(program, "small", 10)
    earn(program, "large", 100)
    api.get(member_url("small", "/ledger"))  # the key's first use writes last_used_at

    with CaptureQueriesContext(connection) as small:
        assert api.get(member_url("small", "/ledger?limit=50")).status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert api.get(member_url("large", "/ledger?limit=50")).status_code == 200

    assert len(large) == len(small)
    assert len(small) <= 4


# --- grants --------------------------------------------------------------------------------


def test_positive_grant_is_201_with_a_grant_entry_and_the_new_balance(api, member):
    response = api.post(
        member_url(member.external_id, "/grants"),
        {"points": 50, "reason": "Welcome"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["balance"] == 50
    assert ENTRY_FIELDS <= set(body["entry"])
    assert body["entry"]["kind"] == "grant"
    assert body["entry"]["points"] == 50
    assert body["entry"]["balance_after"] == 50
    assert body["entry"]["reason"] == "Welcome"
    member.refresh_from_db()
    assert member.balance == 50


@pytest.mark.parametrize("points", [20_000, -20_000])
def test_an_api_grant_above_the_backoffices_confirmation_amount_applies_as_sent(
    api, member, points
):
    """API keys are exempt from the second confirmation staff give in the backoffice: the
    integrator's amount is deliberate, and the contract has nothing to confirm with."""
    assert member.program.grant_confirmation_points == 10_000
    if points < 0:
        points_grant(
            program=member.program,
            member_external_id=member.external_id,
            points=30_000,
            reason="Start",
            confirmed=True,
        )

    response = api.post(
        member_url(member.external_id, "/grants"),
        {"points": points, "reason": "Migration from the old program"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["entry"]["points"] == points


def test_negative_grant_is_a_deduct_entry(api, member):
    points_grant(
        program=member.program, member_external_id=member.external_id, points=100, reason="Start"
    )

    response = api.post(
        member_url(member.external_id, "/grants"), {"points": -30, "reason": "Fix"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["entry"]["kind"] == "deduct"
    assert response.json()["entry"]["points"] == -30
    assert response.json()["balance"] == 70
    member.refresh_from_db()
    assert member.balance == 70


def test_deducting_down_to_exactly_zero_is_allowed(api, member):
    points_grant(
        program=member.program, member_external_id=member.external_id, points=40, reason="Start"
    )

    response = api.post(
        member_url(member.external_id, "/grants"), {"points": -40, "reason": "All"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["balance"] == 0


def test_deduction_below_zero_is_422_insufficient_points_and_changes_nothing(api, member):
    points_grant(
        program=member.program, member_external_id=member.external_id, points=10, reason="Start"
    )

    response = api.post(
        member_url(member.external_id, "/grants"),
        {"points": -11, "reason": "Too much"},
        format="json",
    )

    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_points"
    assert set(response.json()) == {"code", "detail"}
    member.refresh_from_db()
    assert member.balance == 10
    assert LedgerEntry.objects.filter(member=member).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 10}, "reason"),
        ({"points": 10, "reason": ""}, "reason"),
        ({"points": 10, "reason": "   "}, "reason"),
        ({"points": 10, "reason": None}, "reason"),
        ({"points": 10, "reason": "r" * 501}, "reason"),
        ({"points": 0, "reason": "Nothing"}, "points"),
        ({"points": "abc", "reason": "Letters"}, "points"),
        ({"points": 1.5, "reason": "Half"}, "points"),
        ({"points": "1.5", "reason": "Half"}, "points"),
        ({"points": None, "reason": "Null"}, "points"),
        ({"points": True, "reason": "Bool"}, "points"),
        ({"points": 100_000_001, "reason": "Too many"}, "points"),
        ({"reason": "No points"}, "points"),
    ],
)
def test_invalid_grant_is_400_validation_error_and_changes_nothing(api, member, body, field):
    response = api.post(member_url(member.external_id, "/grants"), body, format="json")

    assert_validation_error(response, field)
    member.refresh_from_db()
    assert member.balance == 0
    assert not LedgerEntry.objects.exists()


def test_grant_to_unknown_member_is_404_and_creates_no_member(api, program):
    response = api.post(
        member_url("nobody", "/grants"), {"points": 5, "reason": "Hi"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert not Member.objects.exists()


def test_other_members_are_untouched_by_a_grant(api, program):
    first, second = MemberFactory(program=program), MemberFactory(program=program)

    api.post(member_url(first.external_id, "/grants"), {"points": 5, "reason": "Hi"}, format="json")

    second.refresh_from_db()
    assert second.balance == 0
