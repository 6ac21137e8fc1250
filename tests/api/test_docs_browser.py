"""The API's guides and reference read well in Chromium, on a phone and on a desktop: the
reference's introduction links to the guides, a guide's code and tables stay inside the
page (they scroll, the page does not), and nothing breaks the Content-Security-Policy."""

import re

import pytest

from tests.browser import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

CSP = re.compile(r"Content Security Policy|Content-Security-Policy", re.I)


@pytest.mark.parametrize("width", [390, 1280])
def test_guides_fit_the_screen_and_are_linked_from_the_reference(live_server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if CSP.search(m.text) else None)
    try:
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector("text=Quick start", timeout=20_000)
        screenshot(page, f"api-docs-reference-{width}")
        for name in ("quickstart", "webhooks"):
            assert page.locator(f"a[href='/api/docs/{name}/']").count() >= 1, name
        for name in ("quickstart", "webhooks"):
            page.goto(f"{live_server.url}/api/docs/{name}/")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            page.wait_for_selector("main.guide h1")
            screenshot(page, f"api-docs-{name}-{width}")
            assert overflow <= 0, (name, width, overflow)
        assert page.locator("pre").count() >= 4
    finally:
        context.close()
    assert not problems
