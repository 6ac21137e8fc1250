"""Merchant content per language in headless Chromium: staff type a tier's name in Spanish
on the program page and a grant's reason in Russian on the member's page, each input labelled
with its language; the members then read them on their profile pages, phone and desktop."""

from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Member, Tier
from loyalty.services.orders import order_record
from loyalty.services.tier_settings import tiers_seed_defaults
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.profile.conftest import deep_link_path
from tests.rewards.factories import CouponTemplateFactory, RewardThresholdFactory

PHONE = {"width": 390, "height": 844}


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")


@pytest.mark.django_db(transaction=True)
def test_staff_enter_texts_per_language_and_members_read_them(live_server, page, browser):
    program = ProgramFactory(earn_rate=Decimal(1))
    tiers_seed_defaults(program=program)
    StaffFactory(username="manager", merchant=program.merchant)
    template = CouponTemplateFactory(program=program, name="Welcome gift",
                                     name_i18n={"es": "Regalo de bienvenida"})  # fmt: skip
    RewardThresholdFactory(program=program, points=200, template=template)
    spanish = MemberFactory(program=program, external_id="ana", locale="es", name="Ana")
    order_record(program=program, external_id="A-1", member_external_id="ana",
                 amount=Decimal(250), currency="EUR")  # fmt: skip
    russian = MemberFactory(program=program, external_id="ivan", locale="ru", name="Иван")
    log_in(page, live_server.url, "manager")

    # The program page: the Gold tier's name in Spanish, by its labelled input.
    page.goto(f"{live_server.url}/admin/loyalty/program/{program.pk}/change/")
    gold_row = page.locator("div.inline-related", has=page.locator("input[value='Gold']"))
    gold_row.get_by_label("Spanish").first.fill("Oro viejo")
    gold_row.locator("textarea[name$='benefits_i18n_es']").fill("Un 10 % más de puntos")
    screenshot(page, "content-i18n-admin-tiers")
    gold_row.screenshot(path=str(screenshot(page, "content-i18n-admin-tiers")).replace(
        "tiers.png", "tier-row.png"))  # fmt: skip
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    gold = Tier.objects.get(program=program, name="Gold")
    assert gold.name_i18n == {"es": "Oro viejo", "ru": "Золото", "tr": "Altın"}

    # The member's page: a grant with its reason in Russian.
    page.goto(f"{live_server.url}/admin/loyalty/member/{russian.pk}/change/")
    page.locator("#points_form input[name=points]").fill("40")
    page.locator("#points_form textarea[name=reason]").fill("Sorry for the late delivery")
    page.locator("#points_form").get_by_label("Russian").fill("Извините за задержку доставки")
    screenshot(page, "content-i18n-admin-grant")
    page.locator("#points_form [type=submit]").click()
    page.wait_for_selector(".messagelist .success")
    entry = LedgerEntry.objects.get(member=russian)
    assert entry.details["reason_i18n"] == {"ru": "Извините за задержку доставки"}

    for member, expected, name in (
        (Member.objects.get(pk=spanish.pk), "Regalo de bienvenida", "es"),
        (russian, "Извините за задержку доставки", "ru"),
    ):
        for viewport, size in ((PHONE, "390"), ({"width": 1280, "height": 900}, "1280")):
            context = browser.new_context(viewport=viewport)
            member_page = context.new_page()
            member_page.goto(live_server.url + deep_link_path(member))
            member_page.wait_for_selector("#history")
            assert expected in member_page.inner_text("main")
            screenshot(member_page, f"content-i18n-profile-{name}-{size}")
            context.close()
