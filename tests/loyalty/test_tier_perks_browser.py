"""In headless Chromium: staff choose a tier's perk on its card, and the member who reaches
the tier sees the perk with its uses left on the profile page, at phone and desktop width
(screenshots in test-artifacts/)."""

from decimal import Decimal

import pytest

from loyalty.models import Tier
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_seed_defaults
from rewards.models import CouponKind
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponTemplateFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_staff_pick_a_tier_perk_and_the_member_sees_it(browser, live_server, size, viewport):
    program = ProgramFactory(earn_rate=Decimal(1), merchant__name="Acme Shoes")
    tiers_seed_defaults(program=program)
    template = CouponTemplateFactory(
        program=program, name="Free shipping", kind=CouponKind.FREE_SHIPPING, value=0,
        max_discount=Decimal("6.00"), valid_days=365, uses=8, allowance_uses=2,
        allowance_period="quarter",
    )  # fmt: skip
    StaffFactory(username=f"boss-{size}", merchant=program.merchant)
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", f"boss-{size}")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/loyalty/program/{program.pk}/change/")

    page.select_option("#id_tiers-0-perk", str(template.pk))
    page.locator("#id_tiers-0-perk").scroll_into_view_if_needed()
    screenshot(page, f"tier-perk-admin-{size}")
    page.wait_for_load_state("networkidle")
    page.locator("input[name=_continue]").scroll_into_view_if_needed()
    page.click("input[name=_continue]")
    page.wait_for_load_state("networkidle")
    assert Tier.objects.get(program=program, name="Gold").perk_id == template.pk

    member = MemberFactory(program=program, external_id="ana", name="Ana")
    order_record(program=program, external_id="A", member_external_id="ana",
                 amount=Decimal(250), currency="EUR")  # fmt: skip
    page.goto(live_server.url + deep_link_path(member))
    page.get_by_test_id("coupon-perk").wait_for()

    assert page.get_by_test_id("coupon-allowance").inner_text() == "uses left this quarter: 2 of 2"
    assert page.get_by_test_id("coupon-perk").inner_text() == (
        "A perk of your Gold tier, for as long as you hold it."
    )
    page.get_by_test_id("coupon-perk").scroll_into_view_if_needed()
    screenshot(page, f"tier-perk-profile-{size}")
    context.close()
