"""The template preview: for staff who may write templates, a limited number of times per
window (counted in Redis), then a 429 the page shows, pausing until the window ends."""

import time

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from loyalty.models import User
from notifications.services import preview as preview_service
from tests.browser import screenshot
from tests.factories import StaffFactory

PREVIEW_URL = reverse("admin:notifications_notificationtemplate_preview")
DATA = {"event": "points_granted", "channel": "email", "language": "en", "subject": "Hi"}


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "status"),
    [(User.Role.VIEWER, 403), (User.Role.SUPPORT, 403), (User.Role.MANAGER, 200)],
)
def test_only_staff_who_may_write_templates_preview_them(program, own_cache, role, status):
    staff = StaffFactory(merchant=program.merchant, role=role)

    assert client_of(staff).post(PREVIEW_URL, DATA).status_code == status


@pytest.mark.django_db
def test_staff_without_a_merchant_cannot_preview(own_cache):
    staff = StaffFactory(merchant=None)

    assert client_of(staff).post(PREVIEW_URL, DATA).status_code == 403


@pytest.mark.django_db
def test_a_superuser_previews(own_cache):
    root = User.objects.create_superuser("root", "root@example.com", "pw")

    assert client_of(root).post(PREVIEW_URL, DATA).status_code == 200


@pytest.mark.django_db
def test_previews_past_the_limit_get_429_per_user_until_the_window_ends(
    program, own_cache, settings, monkeypatch
):
    settings.NOTIFICATIONS_PREVIEW_LIMIT = 3
    settings.NOTIFICATIONS_PREVIEW_WINDOW_SECONDS = 60
    now = [6_000_000.0]  # the start of a window
    monkeypatch.setattr(preview_service.time, "time", lambda: now[0])
    manager = client_of(StaffFactory(merchant=program.merchant))
    colleague = client_of(StaffFactory(merchant=program.merchant))

    answers = [manager.post(PREVIEW_URL, DATA).status_code for _ in range(3)]
    now[0] += 20
    refused = manager.post(PREVIEW_URL, DATA)

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "40"
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["retry_after"] == 40
    assert body["detail"] == (
        "Too many previews in a short time. The preview resumes in 40 seconds."
    )
    assert colleague.post(PREVIEW_URL, DATA).status_code == 200  # counted per user
    now[0] += 40
    assert manager.post(PREVIEW_URL, DATA).status_code == 200  # a new window


@pytest.mark.django_db
def test_the_refusal_follows_the_staff_language(program, own_cache, settings):
    settings.NOTIFICATIONS_PREVIEW_LIMIT = 0
    manager = client_of(StaffFactory(merchant=program.merchant))

    refused = manager.post(PREVIEW_URL, DATA, HTTP_ACCEPT_LANGUAGE="es")

    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Demasiadas vistas previas")


@pytest.mark.django_db
def test_previews_go_on_when_the_cache_is_unreachable(program, settings):
    settings.NOTIFICATIONS_PREVIEW_LIMIT = 0  # would refuse every preview, if counted
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    manager = client_of(StaffFactory(merchant=program.merchant))

    assert manager.post(PREVIEW_URL, DATA).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_page_shows_the_pause_and_catches_up_after_it(
    live_server, page, program, own_cache, settings
):
    settings.NOTIFICATIONS_PREVIEW_LIMIT = 1
    settings.NOTIFICATIONS_PREVIEW_WINDOW_SECONDS = 4
    editor = StaffFactory(username="editor", merchant=program.merchant)
    add_url = reverse("admin:notifications_notificationtemplate_add")
    page.goto(f"{live_server.url}/admin/login/?next={add_url}")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_selector("#preview")
    paused = page.locator("#preview-paused")
    assert paused.is_hidden()
    # At the start of a window, the allowance is used up (as by a preview before).
    time.sleep(4 - time.time() % 4)
    preview_service.preview_rate_check(user_id=editor.pk)

    page.fill("#id_subject", "Two {{ points }}")
    paused.wait_for(state="visible", timeout=3_000)

    assert "Too many previews in a short time" in paused.inner_text()
    assert screenshot(page, "notifications-preview-paused").stat().st_size > 0
    # (a locator, not a function: the page's Content-Security-Policy refuses eval)
    expect(page.locator("#preview [data-part=subject]")).to_have_text("Two 500", timeout=10_000)
    assert paused.is_hidden()
