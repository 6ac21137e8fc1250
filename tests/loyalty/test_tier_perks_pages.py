"""A tier's perk in the backoffice (one select on the tier card, the program's templates only)
and on the member's profile page (the perk, and why it ended)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.models import Member, Tier
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_replace, tiers_seed_defaults
from loyalty.services.tiers import tier_override
from rewards.models import CouponKind
from tests.factories import ProgramFactory, StaffFactory
from tests.loyalty.test_tiers_admin import existing_rows, program_post
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    settings.PROFILE_SIGNIN_KEY_PREFIX = f"profile-signin-perks-{timezone.now().timestamp()}"


@pytest.fixture(autouse=True)
def _language_restored():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def shop():
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    template = CouponTemplateFactory(
        program=program, name="Free shipping", kind=CouponKind.FREE_SHIPPING, value=0,
        valid_days=365, uses=8, allowance_uses=2, allowance_period="quarter",
    )  # fmt: skip
    return program, template


def test_the_tier_card_offers_the_programs_templates_only(client, shop):
    program, template = shop
    theirs = CouponTemplateFactory(program=ProgramFactory(), name="Their shipping")
    client.force_login(StaffFactory(merchant=program.merchant))
    url = reverse("admin:loyalty_program_change", args=[program.pk])

    page = client.get(url).text

    assert "Free shipping" in page
    assert "Their shipping" not in page

    rows = existing_rows(program)
    rows[0]["perk"] = template.pk
    response = client.post(url, program_post(program, rows))
    assert response.status_code == 302
    assert Tier.objects.get(program=program, name="Gold").perk_id == template.pk

    rows = existing_rows(program)
    rows[0]["perk"] = theirs.pk
    refused = client.post(url, program_post(program, rows))
    assert refused.status_code == 200
    assert Tier.objects.get(program=program, name="Gold").perk_id == template.pk


def page_of(client, member) -> str:
    assert client.get(deep_link_path(member)).status_code == 302
    return client.get("/profile/").content.decode()


def gold_member(program, template, locale="en"):
    tiers = [{"name": t.name, "min_points": t.min_points,
              "perk": template.pk if t.name == "Gold" else None}
             for t in program.tiers.order_by("min_points")]  # fmt: skip
    tiers_replace(program=program, tiers=tiers)
    order_record(program=program, external_id="A", member_external_id="m-1",
                 amount=Decimal(250), currency="EUR")  # fmt: skip
    member = Member.objects.get(external_id="m-1")
    Member.objects.filter(pk=member.pk).update(locale=locale, email="m@example.com")
    member.refresh_from_db()
    return member


def test_the_profile_shows_the_perk_with_its_uses_left(client, shop):
    program, template = shop
    member = gold_member(program, template)

    page = page_of(client, member)

    assert "A perk of your Gold tier, for as long as you hold it." in page
    assert "uses left this quarter: 2 of 2" in page


def test_the_profile_says_why_a_perk_ended_in_the_members_language(client, shop):
    program, template = shop
    member = gold_member(program, template, locale="es")
    tier_override(member=member, tier=None, reason="test", until=timezone.now() + timedelta(days=1))

    page = page_of(client, member)

    assert 'data-testid="coupon-perk-ended"' in page
    assert "Esta ventaja terminó cuando dejaste el nivel Oro." in page
