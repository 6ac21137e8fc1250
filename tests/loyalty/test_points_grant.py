"""points_grant: points given or taken by hand, with a reason and an author, applied once."""

from decimal import Decimal

import pytest

from loyalty.errors import (
    GrantConfirmationRequired,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
    MemberNotFound,
)
from loyalty.models import AuditEntry, LedgerEntry, Member
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import MAX_GRANT, points_grant
from tests.factories import ProgramFactory, StaffFactory


@pytest.fixture
def member_with_100(program):
    """A member holding 100 points from an order of 10.00."""
    order_record(
        program=program,
        external_id="A-1",
        member_external_id="cust-1",
        amount=Decimal("10.00"),
        currency="EUR",
    )
    return Member.objects.get(program=program, external_id="cust-1")


def grant(program, points, reason="Goodwill", member="cust-1", **kw):
    return points_grant(
        program=program, member_external_id=member, points=points, reason=reason, **kw
    )


def balance(program, member="cust-1"):
    return Member.objects.get(program=program, external_id=member).balance


def test_grant_adds_points_with_its_reason_and_author(program, member_with_100):
    # given a staff member of the shop
    staff = StaffFactory(merchant=program.merchant)

    # when they grant points with a reason
    result = grant(program, 250, reason="Sorry for the late parcel", created_by=staff)

    # then the member has them, and the ledger says why and who
    assert result.created is True
    entry = result.entry
    assert (entry.kind, entry.points, entry.balance_after) == (LedgerEntry.Kind.GRANT, 250, 350)
    assert entry.reason == "Sorry for the late parcel"
    assert entry.created_by == staff
    assert entry.order is None
    assert balance(program) == 350
    assert ledger_audit() == []


def test_deduct_takes_points_with_its_reason(program, member_with_100):
    result = grant(program, -30, reason="Points given by mistake")

    entry = result.entry
    assert (entry.kind, entry.points, entry.balance_after) == (LedgerEntry.Kind.DEDUCT, -30, 70)
    assert entry.reason == "Points given by mistake"
    assert entry.created_by is None
    assert balance(program) == 70


def test_reason_is_stored_without_surrounding_spaces(program, member_with_100):
    result = grant(program, 5, reason="  Birthday  \n")

    assert result.entry.reason == "Birthday"


def test_grant_to_a_member_without_orders(program):
    member_upsert(program=program, external_id="newcomer")

    result = grant(program, 500, member="newcomer", reason="Welcome bonus")

    assert result.entry.balance_after == 500
    assert balance(program, "newcomer") == 500


def test_deduct_down_to_exactly_zero(program, member_with_100):
    grant(program, -100, reason="Closing the account")

    assert balance(program) == 0


@pytest.mark.parametrize("reason", ["", "   ", "\n\t", None])
def test_reason_is_required(program, member_with_100, reason):
    with pytest.raises(InvalidInput) as raised:
        grant(program, 10, reason=reason)

    assert list(raised.value.fields) == ["reason"]
    assert raised.value.code == "validation_error"
    assert balance(program) == 100
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("points", [0, 100_000_001, -100_000_001])
def test_points_must_be_non_zero_and_bounded(program, member_with_100, points):
    with pytest.raises(InvalidInput) as raised:
        grant(program, points)

    assert list(raised.value.fields) == ["points"]
    assert balance(program) == 100
    assert LedgerEntry.objects.count() == 1


def test_reason_and_points_errors_come_together(program, member_with_100):
    with pytest.raises(InvalidInput) as raised:
        grant(program, 0, reason="")

    assert sorted(raised.value.fields) == ["points", "reason"]


@pytest.mark.parametrize("points", [-101, -1000, -100_000_000])
def test_deduct_beyond_the_balance_is_refused_and_changes_nothing(program, member_with_100, points):
    with pytest.raises(InsufficientPoints) as raised:
        grant(program, points, reason="Too much")

    assert raised.value.code == "insufficient_points"
    assert raised.value.params == {"balance": 100, "points": -points}
    assert balance(program) == 100
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEDUCT).exists()


def test_grant_to_an_unknown_member_is_refused(program):
    with pytest.raises(MemberNotFound) as raised:
        grant(program, 10, member="nobody")

    assert raised.value.code == "member_not_found"
    assert not Member.objects.filter(program=program).exists()


def test_grant_to_a_member_of_another_program_is_refused(program, member_with_100):
    other = ProgramFactory()

    with pytest.raises(MemberNotFound):
        grant(other, 10, member="cust-1")

    assert balance(program) == 100


@pytest.mark.parametrize("points", [40, -40])
def test_same_idempotency_key_is_applied_once(program, member_with_100, points):
    # given a grant sent with a key
    first = grant(program, points, reason="Correction", idempotency_key="k-1")

    # when it is sent again with the same key
    again = grant(program, points, reason="Correction", idempotency_key="k-1")

    # then the first entry is returned and the balance moved once
    assert again.created is False
    assert again.entry.pk == first.entry.pk
    assert balance(program) == 100 + points
    assert LedgerEntry.objects.filter(idempotency_key="grant:k-1").count() == 1


def test_replayed_deduction_is_not_refused_though_the_points_are_gone(program, member_with_100):
    # given a deduction of 80 of the 100 points, applied
    grant(program, -80, idempotency_key="k-1")

    # when its retry arrives, and 80 would no longer fit in the balance of 20
    again = grant(program, -80, idempotency_key="k-1")

    # then it is a replay, not a refusal
    assert again.created is False
    assert balance(program) == 20


@pytest.mark.parametrize(
    ("points", "reason"),
    [(41, "Correction"), (-40, "Correction"), (40, "Another reason")],
)
def test_same_idempotency_key_with_another_request_is_a_conflict(
    program, member_with_100, points, reason
):
    grant(program, 40, reason="Correction", idempotency_key="k-1")

    with pytest.raises(IdempotencyConflict) as raised:
        grant(program, points, reason=reason, idempotency_key="k-1")

    assert raised.value.code == "idempotency_conflict"
    assert raised.value.status == 409
    assert balance(program) == 140


def test_idempotency_key_is_per_member(program, member_with_100):
    member_upsert(program=program, external_id="cust-2")

    grant(program, 10, member="cust-1", idempotency_key="campaign-7")
    second = grant(program, 10, member="cust-2", idempotency_key="campaign-7")

    assert second.created is True
    assert (balance(program, "cust-1"), balance(program, "cust-2")) == (110, 10)


def test_grants_without_a_key_are_each_applied(program, member_with_100):
    grant(program, 10)
    grant(program, 10)

    assert balance(program) == 120
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GRANT).count() == 2


def test_grants_and_deductions_keep_the_chain_of_balances(program, member_with_100):
    for points in [5, -50, 200, -255, 1]:
        grant(program, points)

    entries = list(LedgerEntry.objects.order_by("id").values_list("points", "balance_after"))
    assert entries == [(100, 100), (5, 105), (-50, 55), (200, 255), (-255, 0), (1, 1)]
    assert balance(program) == 1
    assert ledger_audit() == []


def test_grants_past_two_billion_points_stay_exact(program):
    # given a member far past what a 32-bit balance could hold
    member_upsert(program=program, external_id="whale")
    for _ in range(25):
        grant(program, MAX_GRANT, member="whale", confirmed=True)

    # when a little more is granted and taken
    grant(program, 1, member="whale")
    grant(program, -MAX_GRANT, member="whale", confirmed=True)

    # then every point is still counted
    assert balance(program, "whale") == 24 * MAX_GRANT + 1
    assert ledger_audit() == []


# --- the second confirmation above the program's amount (grant_confirmation_points) ---------


@pytest.fixture
def confirm_above_50(program):
    program.grant_confirmation_points = 50
    program.save(update_fields=["grant_confirmation_points"])
    return program


@pytest.mark.parametrize("points", [51, -51])
def test_a_change_above_the_programs_amount_is_refused_unconfirmed(
    confirm_above_50, member_with_100, points
):
    manager = StaffFactory(merchant=confirm_above_50.merchant)

    with pytest.raises(GrantConfirmationRequired) as refused:
        grant(confirm_above_50, points, created_by=manager)

    assert refused.value.code == "grant_confirmation_required"
    assert refused.value.status == 422
    assert "51 points is more than the 50 points" in refused.value.detail
    assert balance(confirm_above_50) == 100  # nothing changed
    assert LedgerEntry.objects.filter(member=member_with_100).count() == 1
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("points", [51, -51])
def test_a_confirmed_change_above_the_amount_applies(confirm_above_50, member_with_100, points):
    manager = StaffFactory(merchant=confirm_above_50.merchant)

    result = grant(confirm_above_50, points, created_by=manager, confirmed=True)

    assert result.created
    assert balance(confirm_above_50) == 100 + points


def test_the_amount_itself_needs_no_confirmation(confirm_above_50, member_with_100):
    grant(confirm_above_50, 50)
    grant(confirm_above_50, -50)

    assert balance(confirm_above_50) == 100


def test_a_refusal_of_its_own_comes_before_asking_to_confirm(confirm_above_50, member_with_100):
    """No point confirming a deduction the balance cannot take."""
    with pytest.raises(InsufficientPoints):
        grant(confirm_above_50, -500)


def test_a_confirmed_change_sent_again_is_a_replay_not_a_new_question(
    confirm_above_50, member_with_100
):
    first = grant(confirm_above_50, 60, idempotency_key="k-1", confirmed=True)

    again = grant(confirm_above_50, 60, idempotency_key="k-1")

    assert not again.created
    assert again.entry.pk == first.entry.pk
    assert balance(confirm_above_50) == 160
