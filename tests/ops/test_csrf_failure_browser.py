"""A stale form in Chromium: the admin's sign-in and the profile's language form, sent
without their security cookie, answer with the refusal page in the look of where they came
from (screenshots at 1,280 and 390 px in test-artifacts/), and "Back" leads to the form."""

import pytest
from django.utils import translation

from loyalty.csrf import COOKIES_FIRST, TITLE
from tests.browser import screenshot
from tests.factories import MemberFactory, ProgramFactory
from tests.profile.conftest import deep_link_path

pytestmark = pytest.mark.django_db(transaction=True)


def forget_the_csrf_cookie(page) -> None:
    """As a browser that dropped the cookie (or never kept it) while the page stayed open."""
    kept = [c for c in page.context.cookies() if c["name"] != "csrftoken"]
    page.context.clear_cookies()
    if kept:
        page.context.add_cookies(kept)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_admins_stale_sign_in_form_gets_the_admins_refusal(live_server, page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    forget_the_csrf_cookie(page)

    page.fill("#id_username", "ann")
    page.fill("#id_password", "secret")
    with page.expect_navigation():
        page.click("input[type=submit]")

    assert page.locator("#refusal").is_visible()
    assert page.locator("#nav-sidebar").count() == 0  # not signed in: no menu
    assert page.locator("h1").inner_text() == str(TITLE)
    assert page.locator("#refusal-advice li").inner_text() == str(COOKIES_FIRST)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    screenshot(page, f"csrf-admin-{width}")
    page.click("#refusal-back")
    assert page.url.endswith("/admin/login/")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_members_stale_form_gets_the_shops_page_in_the_members_language(live_server, page, width):
    program = ProgramFactory(merchant__name="Café Sol", merchant__brand_colour="#9a3412")
    member = MemberFactory(program=program, locale="es")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + deep_link_path(member))
    page.wait_for_selector("[data-testid=balance]")
    forget_the_csrf_cookie(page)

    with page.expect_navigation():
        page.click(".lang-apply")

    with translation.override("es"):
        title, cookies = str(TITLE), str(COOKIES_FIRST)
    assert page.locator("#csrf-failed h1").inner_text() == title
    assert page.locator("#csrf-advice li").inner_text() == cookies
    assert page.locator(".brand").inner_text() == "Café Sol"
    brand = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    assert brand.strip() == "#9a3412"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"csrf-profile-es-{width}")
    page.click("#csrf-back")
    page.wait_for_selector("[data-testid=balance]")  # back on the page, which works again
