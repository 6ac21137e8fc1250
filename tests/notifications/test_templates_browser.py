"""End to end in headless Chromium at phone and desktop width: the notification texts page
lists every text members get, a shipped text opens rendered, and "make my own" opens the
editor filled with it as text blocks, its live preview following the typing."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from notifications.models import NotificationTemplate
from tests.browser import screenshot
from tests.factories import ProgramFactory, StaffFactory

WIDTHS = (390, 1280)


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_the_texts_page_and_the_editor(live_server, page):
    program = ProgramFactory(name="Acme Rewards")
    StaffFactory(username="boss", merchant=program.merchant)
    NotificationTemplate.objects.create(
        merchant=program.merchant, event="points_granted", channel="push", language="en",
        title="Points for you", body="{{ points }} points",
    )  # fmt: skip
    log_in(page, live_server, "boss")

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + reverse("admin:notifications_notificationtemplate_changelist"))
        page.wait_for_selector("#text-catalogue")
        assert page.locator(".text-catalogue .state.shipped").count() == 13 * 4 - 1
        own = page.locator(
            'tr[data-event="points_granted"][data-channel="push"] td[data-language="en"]'
        )
        assert "your text" in own.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        screenshot(page, f"notification-texts-{width}")

        reward = 'tr[data-event="reward_issued"][data-channel="email"] td[data-language="en"]'
        page.click(f"{reward} >> text=open")
        page.wait_for_selector("#shipped-subject")
        assert "Your reward is ready:" in page.inner_text("#shipped-subject")
        frame = page.frame_locator("iframe[srcdoc]")
        assert program.merchant.name in frame.locator("body").inner_text()
        screenshot(page, f"notification-shipped-{width}")

        page.click("#make-own")
        page.wait_for_selector("#id_subject")
        assert page.input_value("#id_subject").startswith("Your reward is ready")
        assert page.input_value("#id_event") == "reward_issued"
        page.fill("#id_subject", "Your Acme gift: {{ coupon_code }}")
        expect(page.locator("[data-part=subject]")).to_contain_text("Your Acme gift: ABCDE")
        # Started as text blocks: the raw bodies are the advanced choice, out of the way.
        assert page.input_value("#id_html_mode") == "blocks"
        assert page.locator("#id_paragraphs").is_visible()
        assert not page.locator("#id_body_html").is_visible()
        page.fill("#id_heading", "A gift from Acme")
        html_body = page.frame_locator("#preview iframe[data-part=body_html]").locator("body")
        expect(html_body).to_contain_text("A gift from Acme")
        page.locator("#preview iframe[data-part=body_html]").scroll_into_view_if_needed()
        screenshot(page, f"notification-editor-{width}")
