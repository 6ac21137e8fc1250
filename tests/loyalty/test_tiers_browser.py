"""The public badge card in a real browser: it shows the tier and orders, in the tier's colour,
and disappears when the member turns it off."""

from decimal import Decimal

import pytest

from loyalty.models import Member
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_seed_defaults
from loyalty.services.tiers import badge_card_set
from tests.browser import screenshot
from tests.factories import ProgramFactory


@pytest.mark.django_db(transaction=True)
def test_badge_card_page_shows_the_tier_and_goes_away_when_turned_off(live_server, page):
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    for n in range(3):
        order_record(
            program=program,
            external_id=f"A-{n}",
            member_external_id="m-1",
            amount=Decimal(400),
            currency="EUR",
        )
    member = Member.objects.select_related("program__merchant").get()
    badge_card_set(member=member, enabled=True)

    page.goto(f"{live_server.url}/badge/{member.badge_token}/")
    card = page.locator("[data-badge-card]")
    assert card.locator(".tier").inner_text() == "Platinum"
    assert card.locator("[data-orders]").inner_text() == "3"
    colour = card.locator(".tier").evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(127, 140, 141)"  # Platinum's badge colour, #7f8c8d
    assert screenshot(page, "tiers-badge-card").stat().st_size > 0

    badge_card_set(member=member, enabled=False)
    response = page.goto(f"{live_server.url}/badge/{member.badge_token}/")
    assert response is not None
    assert response.status == 404
