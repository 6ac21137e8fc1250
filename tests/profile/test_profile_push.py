"""Push subscriptions from the profile page."""

import pytest

from notifications.management.commands.generate_vapid_keys import vapid_keys_new

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def push_configured(settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys_new()


# RFC 8291's example user agent keys: a valid P-256 point and a 16-byte auth secret.
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/profile-test",
    "keys": {
        "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4"
        "bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    },
}


def test_signed_in_member_subscribes_and_unsubscribes(client, signed_in, member):
    client = signed_in(member)

    on = client.post("/profile/push/subscribe/", SUBSCRIPTION, content_type="application/json")
    member.refresh_from_db()
    consent_after_subscribe = member.consent_push
    off = client.post(
        "/profile/push/unsubscribe/",
        {"endpoint": SUBSCRIPTION["endpoint"]},
        content_type="application/json",
    )
    member.refresh_from_db()

    assert on.status_code == 200, on.content
    assert on.json() == {"subscribed": True}
    assert consent_after_subscribe is True
    assert off.status_code == 200
    assert off.json() == {"subscribed": False}
    assert member.consent_push is False


def test_a_bad_subscription_is_refused_and_changes_nothing(client, signed_in, member):
    response = signed_in(member).post(
        "/profile/push/subscribe/", {"endpoint": "nope"}, content_type="application/json"
    )

    member.refresh_from_db()
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert member.consent_push is False


@pytest.mark.parametrize(
    "endpoint",
    # Read as fcm.googleapis.com by urlsplit, as 127.0.0.1 / 10.0.0.1 by urllib3 (which sends).
    ["https://127.0.0.1\\@fcm.googleapis.com/x", "https://10.0.0.1\\.fcm.googleapis.com/y"],
)
def test_an_endpoint_that_would_send_to_an_internal_address_is_refused(
    client, signed_in, member, settings, endpoint
):
    settings.PUSH_ALLOW_PRIVATE_HOSTS = False  # as in production
    settings.PUSH_ENDPOINT_HOSTS = ["fcm.googleapis.com"]

    response = signed_in(member).post(
        "/profile/push/subscribe/",
        {**SUBSCRIPTION, "endpoint": endpoint},
        content_type="application/json",
    )

    member.refresh_from_db()
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "endpoint" in response.json()["fields"]
    assert member.consent_push is False
    assert not member.push_subscriptions.exists()


def test_push_toggle_carries_the_contract_attributes_when_push_is_configured(
    client, signed_in, member
):
    page = signed_in(member).get("/profile/").content.decode()

    for attribute in ("data-push-toggle", "data-vapid-key", "data-sw-url", "data-subscribe-url",
                      "data-unsubscribe-url", "data-label-on", "data-label-off"):  # fmt: skip
        assert attribute in page
