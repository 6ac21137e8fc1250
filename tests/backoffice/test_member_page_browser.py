"""End to end in headless Chromium at 1,280 and 390 px: the issue's 100,000,000 points.
A manager types them, the page asks first; once confirmed, the message and the page say
the same balance, written the same way. Screenshots in test-artifacts/."""

from decimal import Decimal

import pytest

from loyalty.models import LedgerEntry, Member
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.rewards.factories import RewardThresholdFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_a_big_grant_is_confirmed_and_the_message_agrees_with_the_page(live_server, browser, width):
    program = ProgramFactory(name="Acme Rewards", point_value=Decimal("0.01"))
    StaffFactory(username="boss", merchant=program.merchant, role="manager")
    member = MemberFactory(program=program, external_id="cus-1", name="Ann Example")
    Member.objects.filter(pk=member.pk).update(balance=250)
    # A reward at 1,000,000 points: the grant turns 100 of them into coupons at once.
    RewardThresholdFactory(program=program, points=1_000_000)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard")

    page.goto(f"{live_server.url}/admin/loyalty/member/{member.pk}/change/")
    page.fill("#points_form input[name=points]", "100000000")
    page.fill("#points_form textarea[name=reason]", "Goodwill")
    page.click("#points_form input[type=submit]")

    page.wait_for_selector("#points-confirm")
    assert "Grant 100,000,000 points to this member?" in page.inner_text("#points-confirm")
    assert "The balance would be 100,000,250" in page.inner_text("#points-confirm")
    assert not LedgerEntry.objects.filter(member=member).exists()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"member-page-confirm-{width}")

    page.click("#points-confirm-button")

    page.wait_for_selector(".messagelist .success")
    member.refresh_from_db()
    assert member.balance == 250
    message = page.inner_text(".messagelist .success")
    assert "Granted 100,000,000 points. New balance: 250." in message
    assert "100 reward coupons were issued from them." in message
    assert page.inner_text("#points-balance") == "250"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"member-page-granted-{width}")
    context.close()
