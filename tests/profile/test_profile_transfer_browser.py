"""End to end in headless Chromium: a member signs in through the shop's deep link, gives
points to a friend with the form, sees their new balance and the transfer in their history;
the same form sent twice (a double click) gives once, and a refusal shows on the form.
The page is saved as the "profile-transfer" artifact."""

import pytest

from loyalty.models import Member, Transfer
from loyalty.services.points import points_grant
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory
from tests.profile.conftest import deep_link_path

# Sends the transfer form twice, as a double click does, with the page's key and CSRF token.
SEND_TWICE = """async () => {
  const form = document.querySelector('[data-testid="transfer-form"]');
  const body = new FormData(form);
  const sent = await Promise.all([1, 2].map(() => fetch(form.action, {
    method: "POST", body, credentials: "same-origin", redirect: "manual"})));
  return sent.map((response) => response.type);
}"""


@pytest.mark.django_db(transaction=True)
def test_member_gives_points_through_the_form_and_sees_the_new_balance(live_server, page):
    program = ProgramFactory(
        merchant__name="Acme Coffee",
        transfers_enabled=True,
        transfer_min_points=50,
        transfer_monthly_limit=5000,
    )
    ana = MemberFactory(program=program, name="Ana", external_id="ana")
    ben = MemberFactory(program=program, external_id="ben")
    points_grant(program=program, member_external_id="ana", points=1200, reason="Welcome")

    page.goto(live_server.url + deep_link_path(ana))
    assert page.get_by_test_id("balance").inner_text() == "1,200"

    # The same form sent twice at once: the points move once.
    form = page.get_by_test_id("transfer-form")
    form.get_by_label("To").fill("ben")
    form.get_by_label("Points").fill("200")
    assert page.evaluate(SEND_TWICE) == ["opaqueredirect", "opaqueredirect"]
    page.reload()
    assert page.get_by_test_id("balance").inner_text() == "1,000"
    assert Transfer.objects.count() == 1

    # Give through the form as a member does.
    form = page.get_by_test_id("transfer-form")
    form.get_by_label("To").fill("ben")
    form.get_by_label("Points").fill("250")
    form.get_by_label("Message").fill("For your coffee")
    form.get_by_role("button", name="Give points").click()

    page.get_by_text("You gave 250 points to ben. Your balance is now 750.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "750"
    history = page.locator("table.history").inner_text()
    assert "Given to member ben: For your coffee" in history
    screenshot(page, "profile-transfer")

    # A refusal is shown next to the field, and the points stay.
    form = page.get_by_test_id("transfer-form")
    form.get_by_label("To").fill("ben")
    form.get_by_label("Points").fill("10")
    form.get_by_role("button", name="Give points").click()
    page.get_by_text("A transfer moves at least 50 points.").wait_for()
    assert page.get_by_test_id("balance").inner_text() == "750"

    assert Member.objects.get(pk=ben.pk).balance == 450
    assert Transfer.objects.count() == 2
