"""Points transfers between members of one program: both ledgers, atomic, once per key,
within the program's switch, minimum and monthly limit, and no deadlock either way."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
    LoyaltyError,
    TransferLimitExceeded,
    TransfersDisabled,
)
from loyalty.models import EarningRule, LedgerEntry, Member, Transfer
from loyalty.services.ledger import ledger_audit
from loyalty.services.members import member_upsert
from loyalty.services.orders import order_record
from loyalty.services.points import points_grant
from loyalty.services.transfers import transfer_create
from tests.factories import MemberFactory, ProgramFactory


def setup_pair(balance=1000, **program):
    program = ProgramFactory(transfers_enabled=True, **program)
    for external_id in ("ann", "ben"):
        MemberFactory(program=program, external_id=external_id)
        points_grant(
            program=program, member_external_id=external_id, points=balance, reason="Start"
        )
    return program


def give(program, points, sender="ann", recipient="ben", key=None, note=""):
    return transfer_create(
        program=program,
        sender_external_id=sender,
        recipient_external_id=recipient,
        points=points,
        note=note,
        key=key,
    )


def balances(program):
    return dict(Member.objects.filter(program=program).values_list("external_id", "balance"))


@pytest.mark.django_db
def test_transfer_shows_on_both_ledgers():
    program = setup_pair()

    result = give(program, 300, note="Happy birthday")

    assert (result.sender_balance, result.recipient_balance) == (700, 1300)
    assert balances(program) == {"ann": 700, "ben": 1300}
    out = LedgerEntry.objects.get(kind="transfer_out")
    into = LedgerEntry.objects.get(kind="transfer_in")
    assert (out.points, into.points) == (-300, 300)
    assert "to ben: Happy birthday" in out.reason
    assert "from ann" in into.reason
    assert ledger_audit() == []


@pytest.mark.django_db
def test_same_key_transfers_once_and_other_data_conflicts():
    program = setup_pair()

    first = give(program, 100, key="k-1")
    again = give(program, 100, key="k-1")
    with pytest.raises(IdempotencyConflict):
        give(program, 200, key="k-1")

    assert (first.created, again.created) == (True, False)
    assert Transfer.objects.count() == 1
    assert balances(program) == {"ann": 900, "ben": 1100}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "points", "recipient", "error"),
    [
        ({"transfers_enabled": False}, 10, "ben", TransfersDisabled),
        ({"transfer_min_points": 50}, 49, "ben", InvalidInput),
        ({}, 10, "ann", InvalidInput),
        ({}, 10, "nobody", InvalidInput),
        ({}, 1001, "ben", InsufficientPoints),
        ({}, 0, "ben", InvalidInput),
    ],
)
def test_refused_transfers_change_nothing(settings, points, recipient, error):
    program = setup_pair()
    for name, value in settings.items():
        setattr(program, name, value)
    program.save()

    with pytest.raises(error):
        give(program, points, recipient=recipient)

    assert balances(program) == {"ann": 1000, "ben": 1000}
    assert not Transfer.objects.exists()


def statement_shape(sql: str) -> str:
    """A statement with its values (and savepoint numbers) left out, lists of any length
    alike."""
    return re.sub(r"IN \([^)]*\)", "IN (...)", re.sub(r"'[^']*'|\d+", "?", sql))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("program_settings", "earlier", "points", "key", "error"),
    [
        ({}, None, 1001, None, InsufficientPoints),
        ({"transfer_monthly_limit": 500}, (400, "k-0"), 200, None, TransferLimitExceeded),
        ({}, (100, "k-0"), 150, "k-0", IdempotencyConflict),
    ],
    ids=["insufficient", "monthly-limit", "used-key"],
)
def test_a_refusal_about_the_sender_takes_one_path_whether_or_not_the_recipient_exists(
    program_settings, earlier, points, key, error
):
    """The same error, the same statements: neither the answer nor the time it takes
    tells whether a member number exists."""
    program = setup_pair(**program_settings)
    if earlier:
        give(program, earlier[0], key=earlier[1])

    outcomes = []
    for recipient in ("ben", "nobody"):
        with CaptureQueriesContext(connection) as queries, pytest.raises(LoyaltyError) as raised:
            give(program, points, recipient=recipient, key=key)
        refusal = raised.value
        outcomes.append(
            (
                type(refusal),
                refusal.detail,
                getattr(refusal, "fields", None),
                [statement_shape(q["sql"]) for q in queries],
            )
        )

    assert outcomes[0][0] is error
    assert outcomes[0] == outcomes[1]


@pytest.mark.django_db
def test_monthly_limit_is_reached_exactly_then_refused():
    program = setup_pair(transfer_monthly_limit=500)

    give(program, 300)
    give(program, 200)
    with pytest.raises(TransferLimitExceeded) as raised:
        give(program, 1)
    give(program, 100, sender="ben", recipient="ann")  # ben's own allowance

    assert "500" in raised.value.detail
    assert balances(program) == {"ann": 600, "ben": 1400}


@pytest.mark.django_db(transaction=True)
def test_opposite_transfers_at_once_never_deadlock_and_keep_the_sum():
    program = setup_pair(balance=1000)
    rounds = 10
    barrier = threading.Barrier(2, timeout=30)

    def run(sender, recipient):
        try:
            barrier.wait()
            for i in range(rounds):
                give(program, 7, sender=sender, recipient=recipient, key=f"{sender}-{i}")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, "ann", "ben"), pool.submit(run, "ben", "ann")]
        for future in futures:
            future.result(timeout=60)  # a deadlock would raise here

    assert balances(program) == {"ann": 1000, "ben": 1000}
    assert Transfer.objects.count() == 2 * rounds
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_a_referral_paying_order_and_transfers_between_the_same_two_never_deadlock():
    program = setup_pair(balance=1000)
    EarningRule.objects.create(
        program=program,
        kind="referral",
        name="Friends",
        parameters={"referrer_points": 300, "referred_points": 100},
    )
    # ben (the higher pk) was referred by ann: his first order locks both.
    member_upsert(program=program, external_id="ben", referred_by="ann")
    barrier = threading.Barrier(2, timeout=30)

    def first_order():
        try:
            barrier.wait()
            order_record(
                program=program,
                external_id="O-1",
                member_external_id="ben",
                amount=Decimal("10.00"),
                currency="EUR",
            )
        finally:
            connection.close()

    def transfers():
        try:
            barrier.wait()
            for i in range(10):
                give(program, 5, sender="ben", recipient="ann", key=f"t-{i}")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(first_order), pool.submit(transfers)]:
            future.result(timeout=60)

    assert sum(balances(program).values()) == 2000 + 100 + 300 + 100  # grants, bonuses, order
    assert ledger_audit() == []
