"""The browser harness itself works: Chromium starts and renders a page of ours."""

import pytest

from tests.browser import screenshot


@pytest.mark.django_db(transaction=True)
def test_chromium_renders_the_api_docs(live_server, page):
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector("#swagger-ui")
    assert "Swagger" in page.title() or page.locator("#swagger-ui").count() == 1
    assert screenshot(page, "api-docs").stat().st_size > 0
