"""Backoffice fixtures: staff users of each role, logged-in clients, dated ledger rows."""

from collections.abc import Callable
from datetime import datetime
from itertools import count

import pytest
from django.test import Client

from loyalty.models import LedgerEntry, Member, Program, User
from tests.factories import ProgramFactory, StaffFactory

_keys = count()


@pytest.fixture
def shop(db) -> Program:
    return ProgramFactory(support_grant_limit=100)


@pytest.fixture
def other_shop(db) -> Program:
    return ProgramFactory()


@pytest.fixture
def staff_client() -> Callable[..., tuple[User, Client]]:
    """``staff_client(program, "support")``: a staff user of that role, logged in."""

    def make(program: Program, role: str = User.Role.MANAGER) -> tuple[User, Client]:
        user = StaffFactory(merchant=program.merchant, role=role)
        client = Client()
        client.force_login(user)
        return user, client

    return make


@pytest.fixture
def superuser_client(db) -> tuple[User, Client]:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return user, client


def entry_at(member: Member, kind: str, points: int, at: datetime) -> LedgerEntry:
    """A ledger row dated in the past (an insert: the ledger refuses only updates)."""
    return LedgerEntry.objects.create(
        program_id=member.program_id,
        member=member,
        kind=kind,
        points=points,
        balance_after=max(points, 0) + 10_000,
        reason="test",
        idempotency_key=f"test:{next(_keys)}",
        created_at=at,
    )
