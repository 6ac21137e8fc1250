"""The profile page in headless Chromium at 390 and 1,280 px, in English, Spanish, Russian
and Turkish: it explains itself (negative balance, how it works, each history line's
calculation), fits a phone without sideways scrolling, shows no English outside the
merchant's own content, and says in the page why push could not be turned on.

Screenshots: test-artifacts/profile-explains-{language}-{width}.png.
"""

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from loyalty.models import EarningRule
from loyalty.services.orders import order_record
from loyalty.services.refunds import refund_record
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory
from tests.rewards.factories import RewardThresholdFactory

WIDTHS = {390: 844, 1280: 900}
# English words of the page's own texts: none may show on a page in another language.
ENGLISH = re.compile(
    r"\b(points?|orders?|your|history|balance|how it works|refund|coupons?|tiers?|earn|"
    r"claim|copy|share|invite|turn on|sign out|rewards?|valid|expire|notifications?)\b",
    re.IGNORECASE,
)


def member_with_a_story(program_kwargs=None):
    """A member of an automatic program with tiers, a referral rule and a refund that left
    the balance below zero, with orders placed over the last months."""
    program = ProgramFactory(
        merchant__name="Acme Coffee", merchant__brand_colour="#7c2d12", **(program_kwargs or {})
    )
    RewardThresholdFactory(
        program=program,
        points=1000,
        template__name="Reward",
        template__name_i18n={"es": "Regalo", "ru": "Подарок", "tr": "Hediye"},
    )
    tiers = tiers_seed_defaults(program=program)  # their names and perks in every language
    EarningRule.objects.create(
        program=program,
        kind=EarningRule.Kind.REFERRAL,
        name="Friends",
        parameters={"referrer_points": 500, "referred_points": 250},
    )
    member = MemberFactory(program=program, name="Ana", tier=tiers[-1])
    now = timezone.now()
    for n, amount in enumerate(["12.30", "45.00", "20.00", "30.90"]):
        order_record(
            program=program,
            external_id=f"A-{n}",
            member_external_id=member.external_id,
            amount=Decimal(amount),
            currency="EUR",
            placed_at=now - timedelta(days=90 - 20 * n),
        )
    refund_record(
        program=program, order_external_id="A-1", external_id="R-1", amount=Decimal("45.00")
    )
    member.refresh_from_db()
    assert member.balance < 0
    return program, member


def merchant_content(program) -> list[str]:
    """The shop's name, the one text the merchant does not give per language (tier names,
    perks and rewards are given in every language above: they are checked too)."""
    return [program.merchant.name, "Acme Coffee"]


def visible_text(page) -> str:
    return page.locator("main").inner_text() + page.locator("header").inner_text()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "es", "ru", "tr"])
def test_the_page_explains_itself_in_each_language_at_both_widths(
    live_server, browser, api_for, language
):
    program, member = member_with_a_story()
    member.locale = language
    member.save(update_fields=["locale"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        url = api_for(program, "orders").post(f"/api/v1/members/{member.external_id}/profile-link")
        page.goto(live_server.url + urlsplit(url.json()["url"]).path)
        page.get_by_test_id("balance").wait_for()
        assert page.locator("html").get_attribute("lang") == language
        assert page.get_by_test_id("negative-balance").is_visible()
        assert page.get_by_test_id("how-tiers").is_visible()
        assert page.get_by_test_id("referral-url").is_visible()
        history = page.locator("table.history").inner_text()
        assert "× 2" in history  # the tier's multiplier, in the calculation
        assert "г.." not in page.content()
        for width, height in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{language} at {width} px scrolls sideways by {overflow} px"
            screenshot(page, f"profile-explains-{language}-{width}")
        if language != "en":
            text = re.sub(r"https?://\S+", "", visible_text(page))  # links are not words
            for own in merchant_content(program):
                text = text.replace(own, "")
            found = ENGLISH.findall(text)
            assert not found, f"English on the {language} page: {found}"
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_push_says_in_the_page_why_it_could_not_be_turned_on(
    live_server, browser, api_for, settings
):
    from notifications.management.commands.generate_vapid_keys import vapid_keys_new

    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys_new()
    program, member = member_with_a_story()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        url = api_for(program, "orders").post(f"/api/v1/members/{member.external_id}/profile-link")
        page.goto(live_server.url + urlsplit(url.json()["url"]).path)
        assert "when a coupon is ready for you" in page.locator("#notifications").inner_text()
        toggle = page.get_by_role("button", name="Turn on push notifications")
        unsupported = page.locator("[data-push-unsupported]")
        if toggle.is_visible():
            toggle.click()
            status = page.get_by_test_id("push-status")
            status.wait_for(state="visible")
            # Headless Chromium refuses the permission (or has no push service): either
            # way the page says so in words, not only in the console.
            assert status.inner_text().strip()
        else:
            assert unsupported.is_visible()
        screenshot(page, "profile-explains-push-390")
    finally:
        context.close()


# A browser whose push service works, so that the server's answer decides (Chromium here
# has none): the service worker and PushManager stand in, the POST is real.
FAKE_PUSH = """
Object.defineProperty(navigator, "serviceWorker", {configurable: true, value: {
  register: function () { return Promise.resolve({}); },
  ready: Promise.resolve({pushManager: {
    getSubscription: function () { return Promise.resolve(null); },
    subscribe: function () { return Promise.resolve({toJSON: function () {
      return {endpoint: "https://push.example.com/x", keys: {p256dh: "bad", auth: "bad"}};
    }}); }
  }})
}});
window.PushManager = window.PushManager || function () {};
"""
NO_PUSH = "delete window.PushManager;"


def open_profile(browser, live_server, api_for, member, script):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_init_script(script)
    page = context.new_page()
    url = api_for(member.program, "orders").post(
        f"/api/v1/members/{member.external_id}/profile-link"
    )
    page.goto(live_server.url + urlsplit(url.json()["url"]).path)
    return context, page


@pytest.mark.django_db(transaction=True)
def test_push_shows_the_servers_refusal_in_the_page(live_server, browser, api_for, settings):
    from notifications.management.commands.generate_vapid_keys import vapid_keys_new

    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys_new()
    _program, member = member_with_a_story()
    context, page = open_profile(browser, live_server, api_for, member, FAKE_PUSH)
    try:
        page.get_by_role("button", name="Turn on push notifications").click()
        status = page.get_by_test_id("push-status")
        status.wait_for(state="visible")
        text = status.inner_text()
        assert text.startswith("Push notifications could not be turned on:")
        assert len(text) > len("Push notifications could not be turned on:") + 5  # its detail
        member.refresh_from_db()
        assert member.consent_push is False
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_a_browser_without_push_is_told_so_in_the_page(live_server, browser, api_for, settings):
    from notifications.management.commands.generate_vapid_keys import vapid_keys_new

    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys_new()
    _program, member = member_with_a_story()
    context, page = open_profile(browser, live_server, api_for, member, NO_PUSH)
    try:
        unsupported = page.locator("[data-push-unsupported]")
        unsupported.wait_for(state="visible")
        assert "This browser cannot show push notifications" in unsupported.inner_text()
        assert not page.get_by_role("button", name="Turn on push notifications").is_visible()
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "es", "ru", "tr"])
def test_all_coupons_page_in_each_language_at_both_widths(live_server, browser, api_for, language):
    """A member holding more coupons than the page shows follows "All your coupons" to
    every one of them, a page at a time, in their language, without sideways scrolling."""
    from loyalty.profile.selectors import ACTIVE_COUPONS_SHOWN, COUPONS_PAGE_SIZE
    from tests.rewards.factories import CouponFactory

    program, member = member_with_a_story()
    member.locale = language
    member.save(update_fields=["locale"])
    for _ in range(COUPONS_PAGE_SIZE + ACTIVE_COUPONS_SHOWN):
        CouponFactory(program=program, member=member, reason="Sorry for the delay")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        url = api_for(program, "orders").post(f"/api/v1/members/{member.external_id}/profile-link")
        page.goto(live_server.url + urlsplit(url.json()["url"]).path)
        assert page.get_by_test_id("coupon-code").count() == ACTIVE_COUPONS_SHOWN
        page.get_by_test_id("all-coupons").click()
        page.wait_for_url("**/profile/coupons/")
        assert page.get_by_test_id("coupon-code").count() == COUPONS_PAGE_SIZE
        for width, height in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{language} at {width} px scrolls sideways by {overflow} px"
            screenshot(page, f"profile-coupons-{language}-{width}")
        page.locator("a[rel=next]").click()
        page.wait_for_url("**before=*")
        held = member.coupons.filter(status="active").count()
        assert page.get_by_test_id("coupon-code").count() == held - COUPONS_PAGE_SIZE
        if language != "en":
            text = re.sub(r"https?://\S+", "", visible_text(page))
            for own in merchant_content(program):
                text = text.replace(own, "")
            found = ENGLISH.findall(text)
            assert not found, f"English on the {language} coupons page: {found}"
    finally:
        context.close()
