"""End to end in headless Chromium at phone and desktop width: a manager opens a webhook
endpoint, sends a test event to a real receiver on this machine and reads its answer."""

import pytest
from django.urls import reverse

from notifications.models import WebhookEndpoint
from tests.browser import screenshot
from tests.factories import ProgramFactory, StaffFactory
from tests.notifications.test_webhook_test_event import VerifyingReceiver

WIDTHS = (390, 1280)


@pytest.mark.django_db(transaction=True)
def test_a_manager_sends_a_test_event_from_the_endpoint_page(live_server, page):
    program = ProgramFactory()
    StaffFactory(username="boss", merchant=program.merchant)
    with VerifyingReceiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(
            merchant=program.merchant, url=receiver.url, events=["order_recorded"]
        )
        receiver.secret = endpoint.secret
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        page.wait_for_load_state()

        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            url = reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])
            page.goto(live_server.url + url)
            page.click("#webhook-test button")
            page.wait_for_selector(".messagelist")

            message = page.inner_text(".messagelist")
            assert "accepted the test event: HTTP 200" in message
            assert "verified" in message
            screenshot(page, f"webhook-test-{width}")
        assert len(receiver.requests) == 2
        assert all(request["verified"] for request in receiver.requests)
