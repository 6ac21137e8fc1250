"""End to end in headless Chromium: a member signs in through the emailed link, reads
their balance, copies a coupon code, switches to Spanish and pages through history.

Screenshots of the page at phone and desktop width are saved as test artifacts.
"""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail

from loyalty.services.orders import order_record
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory
from tests.profile.conftest import sign_in_link
from tests.rewards.factories import CouponFactory, RewardThresholdFactory

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def clipboard_page(browser, live_server):
    """A page whose origin (the live server) may read and write the clipboard."""
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.django_db(transaction=True)
def test_member_signs_in_by_email_and_uses_the_page(live_server, clipboard_page):
    page = clipboard_page
    program = ProgramFactory(merchant__name="Acme Coffee", merchant__brand_colour="#7c2d12")
    RewardThresholdFactory(program=program, points=5000)
    member = MemberFactory(program=program, name="Ana", email="ana@example.com")
    for n in range(24):  # 24 orders of 12.50: 125 points each, 3,000 in all
        order_record(
            program=program,
            external_id=f"A-{n}",
            member_external_id=member.external_id,
            amount=Decimal("12.50"),
            currency="EUR",
        )
    coupon = CouponFactory(program=program, member=member, value=Decimal("10"))

    # Ask for a link on the shop's sign-in page.
    page.goto(f"{live_server.url}/profile/{program.merchant.slug}/sign-in/")
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_text("Check your email").wait_for()
    assert len(mail.outbox) == 1

    # Follow the emailed link and confirm.
    page.goto(live_server.url + urlsplit(sign_in_link("ana@example.com")).path)
    page.get_by_role("button", name="Sign in").click()
    balance = page.get_by_test_id("balance")
    balance.wait_for()
    assert balance.inner_text() == "3,000"
    assert "2,000 points to your next coupon" in page.get_by_test_id("next-reward").inner_text()

    # Copy the coupon code, from the keyboard.
    page.get_by_role("button", name=f"Copy code {coupon.display_code}").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == coupon.display_code

    screenshot(page, "profile-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "profile-phone")
    page.set_viewport_size(DESKTOP)

    # Page through the history: 24 entries, 20 a page, by keyset.
    assert page.locator("table.history tbody tr").count() == 20
    page.get_by_role("link", name="Older").click()
    page.wait_for_url("**/profile/?before=*")
    assert page.locator("table.history tbody tr").count() == 4
    assert page.get_by_role("link", name="Older").count() == 0

    # Switch to Spanish: the page (and the member's language) change.
    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Change").click()
    page.get_by_role("heading", name="Tu saldo").wait_for()
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_test_id("balance").inner_text() == "3\N{NO-BREAK SPACE}000"
    member.refresh_from_db()
    assert member.locale == "es"
    page.set_viewport_size(PHONE)
    screenshot(page, "profile-phone-es")

    # Sign out: the page is gone.
    page.get_by_role("button", name="Cerrar sesión").click()
    page.get_by_role("button", name="Enviarme un enlace de acceso").wait_for()


@pytest.mark.django_db(transaction=True)
def test_choice_member_signs_in_from_the_shop_and_claims_a_reward(live_server, page, api_for):
    from loyalty.models import Program
    from loyalty.services.points import points_grant

    program = ProgramFactory(
        merchant__name="Libros Luna", conversion_mode=Program.ConversionMode.CHOICE
    )
    RewardThresholdFactory(program=program, points=500)
    RewardThresholdFactory(program=program, points=2000, template__value=Decimal("25"))
    member = MemberFactory(program=program, name="Lucía", locale="es")
    points_grant(
        program=program, member_external_id=member.external_id, points=800, reason="Bienvenida"
    )
    CouponFactory(program=program, member=member, status="redeemed")

    # The shop asks for a deep link and sends its customer there.
    url = api_for(program, "orders").post(f"/api/v1/members/{member.external_id}/profile-link")
    page.goto(live_server.url + urlsplit(url.json()["url"]).path)
    page.get_by_text("Recompensas que puedes canjear").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "800"

    # Claiming asks first, with what it costs; nothing is spent until confirmed.
    page.get_by_role("button", name="Canjear").first.click()
    page.get_by_test_id("claim-confirm").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "800"
    page.get_by_role("button", name="Sí, gastar 500 puntos").click()
    page.get_by_test_id("coupon-code").wait_for()
    # The result is in view: the page opens at its message, not below it.
    assert page.locator("#messages").is_visible()
    assert page.evaluate("window.scrollY") < 200
    assert page.get_by_test_id("balance").inner_text() == "300"
    code = page.get_by_test_id("coupon-code").inner_text()
    assert f"Tu cupón {code} está listo para usar." in page.content()

    screenshot(page, "profile-choice-desktop-es")
    page.set_viewport_size(PHONE)
    screenshot(page, "profile-choice-phone-es")
