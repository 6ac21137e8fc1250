"""End to end in headless Chromium (issue #20): from an empty merchant, a manager sets up
the seeds' program with the backoffice's forms alone — three tier cards with colours and
perks, the reward thresholds (one scoped to a category, one a free product), a sign-up bonus
and a campaign — while the live example shows what a customer earns (the campaign's as typed,
before it is saved), and the Save buttons never move under the merchant's pointer; at 1,280
px and at 390 px, without scrolling sideways or a label cut short."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from loyalty.models import Campaign, EarningRule, Tier
from rewards.services.thresholds import thresholds_describe
from tests.browser import ARTIFACTS, screenshot
from tests.factories import ProgramFactory, StaffFactory

TIERS = (
    ("Gold", "200", "1.1", "#c9a227", []),
    ("Platinum", "1000", "1.5", "#7f8c8d", ["badge_card"]),
    ("Diamond", "2000", "2", "#3b82f6", ["early_access", "badge_card"]),
)


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


def no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className"
        " + ':' + Math.round(e.getBoundingClientRect().right))"
    )
    assert width <= viewport, f"page is {width}px wide in a {viewport}px window: {wide}"


def no_label_cut_short(page, selector):
    """No label overflows its own box or its field's box (a card's or a row's column)."""
    cut = page.evaluate(
        f"[...document.querySelectorAll('{selector} label')].filter(l => l.offsetParent"
        " && getComputedStyle(l).display !== 'inline').filter(l => {"
        " const box = l.parentElement.getBoundingClientRect(), r = l.getBoundingClientRect();"
        " return l.scrollWidth > l.clientWidth + 1 || r.right > box.right + 1; })"
        ".map(l => l.textContent.trim())"
    )
    assert cut == [], f"labels cut short: {cut}"


def save_button_y(page):
    return page.evaluate(
        "document.querySelector('input[name=_save]').getBoundingClientRect().top + window.scrollY"
    )


def fill_tier(page, index, name, points, multiplier, colour, flags):
    card = page.locator(f"#tiers-{index}")
    card.locator(f"#id_tiers-{index}-name").fill(name)
    card.locator(f"#id_tiers-{index}-min_points").fill(points)
    card.locator(f"#id_tiers-{index}-window_days").fill("90")
    card.locator(f"#id_tiers-{index}-earn_multiplier").fill(multiplier)
    card.locator(f"#id_tiers-{index}-badge").fill(colour)
    for flag in flags:
        card.locator(f'input[name="tiers-{index}-flags"][value="{flag}"]').check()


def fill_thresholds(page):
    page.fill("#id_thresholds-0-points", "5000")
    page.select_option("#id_thresholds-0-kind", "percent")
    page.fill("#id_thresholds-0-value", "10")
    page.fill("#id_thresholds-0-min_order_amount", "100")
    page.fill("#id_thresholds-0-valid_days", "30")
    # Each kind shows its own fields: a percent asks no product, a free product no value.
    expect(page.locator("#id_thresholds-0-product_sku")).to_be_hidden()
    page.fill("#id_thresholds-1-points", "2000")
    page.select_option("#id_thresholds-1-kind", "free_product")
    expect(page.locator("#id_thresholds-1-value")).to_be_hidden()
    page.fill("#id_thresholds-1-product_sku", "MUG-1")
    page.fill("#id_thresholds-1-max_discount", "12")
    # What the 10% applies to: shoes and boots, never the sale SKU (lines or commas).
    page.click("#thresholds-0 .threshold-more summary")
    page.fill("#id_thresholds-0-include_categories", "shoes\nboots")
    page.fill("#id_thresholds-0-exclude_skus", "SALE-1")


def set_up_program(page, live_server, program, width):
    page.goto(f"{live_server.url}/admin/loyalty/program/{program.pk}/change/")
    page.wait_for_selector("#tiers-group")
    # The example's first answer (50.00, no tier).
    expect(page.get_by_test_id("example-points")).to_contain_text("500 points", timeout=20_000)
    for index, tier in enumerate(TIERS):
        page.click("#tiers-group .add-row a")
        fill_tier(page, index, *tier)
    fill_thresholds(page)
    before = save_button_y(page)  # the cards and rows above it are all there now
    # The live example: 50.00 for a Platinum member, with the cards as typed.
    page.fill("#example-amount", "50")
    page.select_option("#example-tier", "Platinum")
    # A loaded machine (2 cores shared) may take a while to answer: wait up to 20 s.
    expect(page.get_by_test_id("example-points")).to_contain_text("750 points", timeout=20_000)
    expect(page.get_by_test_id("example-steps")).to_contain_text("1.5", timeout=20_000)
    assert save_button_y(page) == before, "the example's answer moved the Save buttons"
    page.fill("#example-amount", "-5")
    expect(page.get_by_test_id("example-errors")).to_be_visible(timeout=20_000)
    assert save_button_y(page) == before, "the example's refusal moved the Save buttons"
    page.fill("#example-amount", "50")
    expect(page.get_by_test_id("example-points")).to_contain_text("750 points", timeout=20_000)
    # The cards: English once (the base name), each label whole.
    assert page.locator('input[name$="-name_i18n_en"]').count() == 0
    no_label_cut_short(page, "#tiers-group")
    no_label_cut_short(page, "#thresholds")
    no_sideways_scroll(page)
    screenshot(page, f"builder-program-{width}")
    for part in ("thresholds", "tiers-group", "earning-example"):
        page.locator(f"#{part}").screenshot(path=str(ARTIFACTS / f"builder-{part}-{width}.png"))
    # (A screenshot leaves Chromium to scroll back to a focused field when it loses focus.)
    page.evaluate("document.activeElement.blur()")
    with page.expect_navigation():
        page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")


def add_rule_and_campaign(page, live_server, width):
    page.goto(f"{live_server.url}/admin/loyalty/earningrule/add/")
    no_sideways_scroll(page)
    screenshot(page, f"builder-rule-kinds-{width}")
    page.click("text=Sign-up bonus")
    page.fill("#id_name", "Welcome")
    page.fill("#id_points", "0")
    # The rule page's example says, as typed, what stops the rule (before any save).
    expect(page.get_by_test_id("example-errors")).to_contain_text(
        "greater than or equal to 1", timeout=20_000
    )
    no_sideways_scroll(page)
    screenshot(page, f"builder-rule-example-{width}")
    page.evaluate("document.activeElement.blur()")
    page.click("input[name=_save]")
    error = page.locator(".field-points .errorlist").inner_text()
    assert "greater than or equal to 1" in error
    page.fill("#id_points", "100")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    page.goto(f"{live_server.url}/admin/loyalty/campaign/add/")
    page.fill("#id_name", "Double weekend")
    page.fill("#id_start_date", "2026-12-12")
    page.fill("#id_end_date", "2026-12-10")
    page.fill("#id_multiplier", "2")
    page.check('input[name=tiers][value="Diamond"]')
    page.fill("#id_segment_email_endswith", "@acme.com")
    # The example counts the campaign as typed: first why it can't yet, then what it gives.
    expect(page.get_by_test_id("example-errors")).to_contain_text(
        "must end on or after", timeout=20_000
    )
    page.fill("#id_end_date", "2028-12-13")
    page.select_option("#example-tier", "Diamond")
    # 50.00 x 10 points, x 2 (the campaign), x 2 (Diamond) = 2,000.
    points = page.get_by_test_id("example-points")
    expect(points).to_have_text(re.compile(r"earns 2,?000 points"), timeout=20_000)
    expect(page.get_by_test_id("example-steps")).to_contain_text("Double weekend")
    no_sideways_scroll(page)
    screenshot(page, f"builder-campaign-example-{width}")
    assert not Campaign.objects.exists()  # nothing saved by the example
    page.fill("#id_end_date", "2026-12-10")
    page.evaluate("document.activeElement.blur()")
    page.click("input[name=_save]")
    assert "must end on or after" in page.locator(".field-end_date .errorlist").inner_text()
    no_sideways_scroll(page)
    screenshot(page, f"builder-campaign-error-{width}")
    page.fill("#id_end_date", "2026-12-13")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_staff_set_up_the_seeds_program_with_forms_alone(live_server, browser, width):
    program = ProgramFactory(name="Acme Rewards", earn_rate=Decimal(10))
    StaffFactory(username="owner", merchant=program.merchant, role="manager")
    assert not Tier.objects.filter(program=program).exists()
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        log_in(page, live_server, "owner")
        set_up_program(page, live_server, program, width)
        add_rule_and_campaign(page, live_server, width)
    finally:
        context.close()

    tiers = list(Tier.objects.filter(program=program).order_by("min_points"))
    assert [(t.name, t.min_points, t.window_days, t.badge, t.flags) for t in tiers] == [
        ("Gold", 200, 90, "#c9a227", []),
        ("Platinum", 1000, 90, "#7f8c8d", ["badge_card"]),
        ("Diamond", 2000, 90, "#3b82f6", ["early_access", "badge_card"]),
    ]
    mug, threshold = thresholds_describe(program=program)
    assert threshold["points"] == 5000
    assert threshold["coupon"]["value"] == Decimal(10)
    assert threshold["coupon"]["min_order_amount"] == Decimal(100)
    assert threshold["coupon"]["scope"] == {"include_categories": ["shoes", "boots"],
                                            "exclude_skus": ["SALE-1"]}  # fmt: skip
    assert (mug["points"], mug["coupon"]["kind"], mug["coupon"]["product_sku"]) == (
        2000,
        "free_product",
        "MUG-1",
    )
    rule = EarningRule.objects.get(program=program)
    assert (rule.kind, rule.parameters) == ("signup", {"points": 100})
    campaign = Campaign.objects.get(program=program)
    assert campaign.tiers == ["Diamond"]
    assert campaign.segment == {"email__endswith": "@acme.com"}
