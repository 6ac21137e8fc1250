"""A tier override by staff takes a manager and leaves a line in the audit trail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.audit import Action
from loyalty.models import AuditEntry, Member, Tier
from loyalty.roles import RoleForbidden
from loyalty.services.tiers import tier_override
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_a_managers_override_is_in_the_audit_trail(program):
    gold = Tier.objects.create(program=program, name="Gold", min_points=200)
    member = MemberFactory(program=program)
    manager = StaffFactory(merchant=program.merchant, role="manager")
    until = timezone.now() + timedelta(days=10)

    tier_override(member=member, tier=gold, reason="VIP event", until=until, created_by=manager)

    entry = AuditEntry.objects.get()
    assert entry.action == Action.TIER_OVERRIDE
    assert entry.actor == manager
    assert entry.reason == "VIP event"
    assert entry.changes["tier"] == [None, "Gold"]
    assert entry.target_id == str(member.pk)


def test_support_may_not_override_a_tier(program):
    gold = Tier.objects.create(program=program, name="Gold", min_points=200)
    member = MemberFactory(program=program)
    support = StaffFactory(merchant=program.merchant, role="support")

    with pytest.raises(RoleForbidden):
        tier_override(
            member=member, tier=gold, reason="Nice customer",
            until=timezone.now() + timedelta(days=10), created_by=support,
        )  # fmt: skip

    assert Member.objects.get(pk=member.pk).tier_id is None
    assert AuditEntry.objects.count() == 0
