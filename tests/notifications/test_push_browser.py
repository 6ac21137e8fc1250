"""push.js in Chromium: it hides its toggle where push cannot work, and otherwise registers
the service worker for the whole site (which needs the Service-Worker-Allowed header)."""

import pytest

from tests.browser import screenshot

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>push</title></head><body>
<button type="button" data-push-toggle data-vapid-key="{key}"
  data-sw-url="/notifications/sw.js" data-subscribe-url="/subscribe/"
  data-unsubscribe-url="/unsubscribe/" data-label-on="Push is on"
  data-label-off="Turn on push" data-subscribed="false">…</button>
<p data-push-unsupported hidden>Your browser cannot show notifications.</p>
<script src="/static/notifications/push.js"></script>
</body></html>"""

KEY = "BEndm7RSteA0d6sdygPNPVcRMFx_uE8pNjJAe1N6yg6QyuavDvxmePGYQFB_bNk2SOaBtKECmpd1NtEPGuq_aN0"
# The scope the service worker took, or an error if it was not registered in time.
WORKER_SCOPE = """Promise.race([
  navigator.serviceWorker.ready.then(function (registration) { return registration.scope; }),
  new Promise(function (done) { setTimeout(function () { done("not registered"); }, 10000); }),
])"""


def open_page(live_server, page, key: str) -> None:
    url = f"{live_server.url}/push-test/"
    page.route(
        url, lambda route: route.fulfill(content_type="text/html", body=PAGE.format(key=key))
    )
    page.goto(url)


@pytest.mark.django_db(transaction=True)
def test_the_toggle_hides_itself_without_a_vapid_key(live_server, page):
    open_page(live_server, page, key="")

    page.wait_for_selector("[data-push-unsupported]", state="visible")
    assert page.locator("[data-push-toggle]").is_hidden()
    screenshot(page, "push-unsupported")


@pytest.mark.django_db(transaction=True)
def test_the_toggle_registers_the_service_worker_for_the_whole_site(live_server, page):
    open_page(live_server, page, key=KEY)

    scope = page.evaluate(WORKER_SCOPE)

    assert scope == f"{live_server.url}/"
    toggle = page.locator("[data-push-toggle]")
    assert toggle.is_visible()
    assert toggle.inner_text() == "Turn on push"
    assert toggle.get_attribute("aria-pressed") == "false"
    assert page.locator("[data-push-unsupported]").is_hidden()
