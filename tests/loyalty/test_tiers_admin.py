"""Tiers in the backoffice: definitions on the program page, members per tier, a member's
tier history, and the override action with a reason and an end date."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Member, Tier, TierChange
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.factories import MemberFactory, ProgramFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    staff = StaffFactory(merchant=program.merchant)
    return program, staff


def gold_member(program, external_id="m-1"):
    MemberFactory(program=program, external_id=external_id)
    order_record(
        program=program,
        external_id=f"{external_id}-A",
        member_external_id=external_id,
        amount=Decimal(250),
        currency="EUR",
    )
    return Member.objects.get(program=program, external_id=external_id)


def program_post(program, tiers):
    data = {
        "name": program.name,
        "currency": program.currency,
        "earn_rate": str(program.earn_rate),
        "points_validity_days": program.points_validity_days,
        "reset_validity_on_order": "on",
        "reminder_offsets_days": "60, 30",
        "earn_on_tax": "on",
        "tier_grace_days": "3",
        "tier_notice_days": "10",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": str(sum(1 for t in tiers if t.get("id"))),
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    for n, tier in enumerate(tiers):
        row = {
            "id": "",
            "program": program.pk,
            "window_days": "90",
            "earn_multiplier": "1",
            "min_rating": "",
            "badge": "",
            "benefits": "",
            "other_flags": "",
            **tier,
        }
        data.update({f"tiers-{n}-{key}": value for key, value in row.items()})
    return data


def existing_rows(program):
    return [
        {
            "id": t.pk,
            "name": t.name,
            "min_points": t.min_points,
            "earn_multiplier": str(t.earn_multiplier),
        }
        for t in program.tiers.order_by("min_points")
    ]


def test_program_page_shows_and_saves_the_tiers(client, shop):
    program, staff = shop
    client.force_login(staff)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Platinum" in page.text
    gold = program.tiers.get(name="Gold")
    rows = existing_rows(program)
    rows[0].update(
        name="Gold Club",
        min_points="250",
        benefits="Free gift wrap\nBirthday bonus",
        flags=["early_access"],
        other_flags="vip",
    )
    rows[2]["DELETE"] = "on"
    rows.append({"name": "Silver", "min_points": "50"})

    response = client.post(url, program_post(program, rows))

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    tiers = {t.name: t for t in Tier.objects.filter(program=program)}
    assert set(tiers) == {"Silver", "Gold Club", "Platinum"}
    assert tiers["Gold Club"].pk == gold.pk  # renamed, same row: members keep it
    assert tiers["Gold Club"].benefits == ["Free gift wrap", "Birthday bonus"]
    assert tiers["Gold Club"].flags == ["early_access", "vip"]
    program.refresh_from_db()
    assert (program.tier_grace_days, program.tier_notice_days) == (3, 10)


def test_program_page_refuses_a_bad_tier_and_changes_nothing(client, shop):
    program, staff = shop
    client.force_login(staff)
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    rows = existing_rows(program)
    rows[0]["earn_multiplier"] = "0.5"
    rows[1]["other_flags"] = "Not A Flag"

    response = client.post(url, {**program_post(program, rows), "name": "Renamed"})

    assert response.status_code == 200
    program.refresh_from_db()
    assert program.name != "Renamed"
    assert program.tiers.get(name="Gold").earn_multiplier == Decimal(1.1).quantize(Decimal("0.001"))


def test_member_list_filters_by_tier_with_counts(client, shop):
    program, staff = shop
    gold_member(program, "m-1")
    gold_member(program, "m-2")
    MemberFactory(program=program, external_id="plain")
    client.force_login(staff)
    url = reverse("admin:loyalty_member_changelist")
    gold = program.tiers.get(name="Gold")

    page = client.get(url)
    assert "Gold (2)" in page.text
    assert "Platinum (0)" in page.text
    filtered = client.get(url, {"tier": gold.pk})
    assert {m.external_id for m in filtered.context["cl"].result_list} == {"m-1", "m-2"}
    none = client.get(url, {"tier": "none"})
    assert {m.external_id for m in none.context["cl"].result_list} == {"plain"}


def test_tier_list_counts_members_and_is_scoped_to_the_merchant(client, shop):
    program, staff = shop
    gold_member(program)
    other = ProgramFactory()
    tiers_seed_defaults(program=other)
    client.force_login(staff)
    page = client.get(reverse("admin:loyalty_tier_changelist"))
    assert page.status_code == 200
    shown = list(page.context["cl"].result_list)
    assert {t.program_id for t in shown} == {program.pk}
    assert {t.name: t.holders for t in shown}["Gold"] == 1


def test_member_page_shows_the_tier_history(client, shop):
    program, staff = shop
    member = gold_member(program)
    client.force_login(staff)
    page = client.get(reverse("admin:loyalty_member_change", args=[member.pk]))
    assert page.status_code == 200
    assert "Reached Gold: 250 points in 90 days" in page.text


def test_override_action_puts_members_at_a_tier_until_a_date_with_a_reason(client, shop):
    program, staff = shop
    member = gold_member(program)
    diamond = program.tiers.get(name="Diamond")
    client.force_login(staff)
    url = reverse("admin:loyalty_member_changelist")
    until = timezone.localdate() + timedelta(days=30)
    form = client.post(url, {"action": "override_tier", "_selected_action": [member.pk]})
    assert form.status_code == 200
    assert "Override the tier" in form.text

    response = client.post(
        url,
        {
            "action": "override_tier",
            "_selected_action": [member.pk],
            "apply": "yes",
            "tier": diamond.pk,
            "until": until.isoformat(),
            "reason": "Influencer campaign",
        },
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.tier == diamond
    assert timezone.localdate(member.tier_override_until) == until + timedelta(days=1)
    change = TierChange.objects.latest("id")
    assert (change.kind, change.to_name, change.reason) == (
        "override",
        "Diamond",
        "Influencer campaign",
    )
    assert change.created_by == staff


def test_override_action_refuses_a_past_date(client, shop):
    program, staff = shop
    member = gold_member(program)
    client.force_login(staff)
    response = client.post(
        reverse("admin:loyalty_member_changelist"),
        {
            "action": "override_tier",
            "_selected_action": [member.pk],
            "apply": "yes",
            "tier": "",
            "until": (timezone.localdate() - timedelta(days=2)).isoformat(),
            "reason": "x",
        },
    )
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.tier.name == "Gold"


def test_a_grant_from_the_member_page_can_count_toward_tiers(client, shop):
    program, staff = shop
    member = MemberFactory(program=program, external_id="m-1")
    client.force_login(staff)
    url = reverse("admin:loyalty_member_points", args=[member.pk])
    data = {"action": "grant", "points": "250", "reason": "Event", "counts_for_tier": "on"}

    response = client.post(url, {**data, "idempotency_key": "2b1c9c3e-7d0e-4a43-9a39-2d5b0c7f0d11"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.tier.name == "Gold"
