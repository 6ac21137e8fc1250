"""In headless Chromium: a member's perk with uses left this quarter, a free product and a
scoped coupon on the profile page, at phone and desktop width (screenshots in
test-artifacts/)."""

from decimal import Decimal

import pytest

from rewards.models import Redemption
from rewards.services.thresholds import thresholds_describe, thresholds_replace
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_profile_shows_perks_free_products_and_scoped_coupons(browser, live_server, size, viewport):
    program = ProgramFactory(merchant__name="Acme Shoes")
    member = MemberFactory(program=program, name="Ana")
    perk = CouponFactory(
        program=program, member=member, kind="free_shipping", value=Decimal(0),
        max_discount=Decimal("6.00"), uses_allowed=8, uses_count=1, allowance_uses=2,
        allowance_period="quarter",
    )  # fmt: skip
    Redemption.objects.create(
        coupon=perk, order_reference="O-1", order_amount=Decimal(40), discount=Decimal("3.90")
    )
    CouponFactory(
        program=program, member=member, kind="free_product", value=Decimal(0),
        product_sku="MUG-1", max_discount=Decimal("12.00"),
    )  # fmt: skip
    CouponFactory(
        program=program, member=member, value=Decimal(20),
        scope={"include_categories": ["shoes"], "exclude_skus": ["SALE-1"]},
    )  # fmt: skip
    context = browser.new_context(viewport=viewport)
    page = context.new_page()

    page.goto(live_server.url + deep_link_path(member))
    page.get_by_test_id("coupon-allowance").wait_for()

    assert page.get_by_test_id("coupon-allowance").inner_text() == "uses left this quarter: 1 of 2"
    text = page.locator("#coupons").inner_text().replace("\xa0", " ")
    assert "free shipping (worth up to 6.00 EUR)" in text
    assert "free: 1 x SKU MUG-1 (worth up to 12.00 EUR)" in text
    assert "20% off on category shoes (except SKU SALE-1)" in text
    screenshot(page, f"rewards-profile-perks-{size}")
    context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_staff_add_a_free_product_reward_on_the_program_page(browser, live_server, size, viewport):
    program = ProgramFactory(name="Acme Rewards")
    StaffFactory(username=f"boss-{size}", merchant=program.merchant)
    thresholds_replace(
        program=program,
        thresholds=[{"points": 500, "coupon": {"kind": "free_shipping", "max_discount": "6"}}],
    )
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", f"boss-{size}")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/loyalty/program/{program.pk}/change/")

    page.fill("#id_thresholds-1-points", "2000")
    page.select_option("#id_thresholds-1-kind", "free_product")
    page.fill("#id_thresholds-1-product_sku", "MUG-1")
    page.fill("#id_thresholds-1-max_discount", "12")
    screenshot(page, f"rewards-admin-thresholds-{size}")
    # The live example above the buttons redraws after an edit: let it settle first.
    page.wait_for_load_state("networkidle")
    page.locator("input[name=_continue]").scroll_into_view_if_needed()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")

    kinds = {t["points"]: t["coupon"]["kind"] for t in thresholds_describe(program=program)}
    assert kinds == {500: "free_shipping", 2000: "free_product"}
    context.close()
