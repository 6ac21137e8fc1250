"""What push needs around it: VAPID keys from the command, the service worker served with
the scope header, and the subscriptions in the backoffice (read-only, per merchant)."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from py_vapid import Vapid02

from notifications.services import push_subscribe
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.notifications.pushservice import Browser

SUBSCRIPTIONS_URL = reverse("admin:notifications_pushsubscription_changelist")


def test_generate_vapid_keys_prints_a_working_key_pair_for_env(settings):
    out = io.StringIO()

    call_command("generate_vapid_keys", "--subject", "mailto:ops@shop.example", stdout=out)

    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert set(lines) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"}
    assert lines["VAPID_SUBJECT"] == "mailto:ops@shop.example"
    # The private key signs tokens that the printed public key verifies.
    vapid = Vapid02.from_string(lines["VAPID_PRIVATE_KEY"])
    headers = vapid.sign({"sub": "mailto:ops@shop.example", "aud": "https://push.example.net"})
    assert Vapid02.verify(headers["Authorization"])
    assert headers["Authorization"].endswith(f"k={lines['VAPID_PUBLIC_KEY']}")


def test_generate_vapid_keys_makes_new_keys_each_time():
    first, second = io.StringIO(), io.StringIO()

    call_command("generate_vapid_keys", stdout=first)
    call_command("generate_vapid_keys", stdout=second)

    assert first.getvalue() != second.getvalue()


def test_the_service_worker_is_served_for_the_whole_site(client):
    response = client.get(reverse("notifications:push-sw"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert reverse("notifications:push-sw") == "/notifications/sw.js"
    script = response.content.decode()
    assert "showNotification" in script
    assert "notificationclick" in script


@pytest.mark.django_db
def test_staff_see_only_their_merchants_push_subscriptions_read_only(client, program, push_keys):
    mine = MemberFactory(program=program, external_id="mine")
    theirs = MemberFactory(program=ProgramFactory(), external_id="theirs")
    push_subscribe(member=mine, subscription=Browser("https://push.example.net/a").subscription())
    other = push_subscribe(
        member=theirs, subscription=Browser("https://push.example.net/b").subscription()
    )
    client.force_login(StaffFactory(merchant=program.merchant))

    response = client.get(SUBSCRIPTIONS_URL)

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert [row.member.external_id for row in shown] == ["mine"]
    assert "push.example.net" in response.content.decode()
    change = reverse("admin:notifications_pushsubscription_change", args=[other.pk])
    assert client.get(change).status_code in (302, 403, 404)
    mine_url = reverse("admin:notifications_pushsubscription_change", args=[shown[0].pk])
    assert client.post(mine_url, {}).status_code == 403
