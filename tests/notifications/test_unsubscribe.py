"""The unsubscribe link: a GET asks, a POST (the page's button or a mail client's one-click
request) turns email consent off; a tampered link changes nothing."""

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notifications_deliver, unsubscribe_token
from tests.factories import MemberFactory
from tests.notifications.conftest import reward

pytestmark = pytest.mark.django_db


def link(member) -> str:
    return reverse("notifications:unsubscribe", args=[unsubscribe_token(member=member)])


def test_get_shows_a_confirmation_page_and_changes_nothing(client, member):
    response = client.get(link(member))

    assert response.status_code == 200
    assert member.program.merchant.name in response.text
    assert '<form method="post">' in response.text
    assert member.email not in response.text  # masked
    member.refresh_from_db()
    assert member.consent_email is True


def test_post_turns_email_consent_off(client, member):
    response = client.post(link(member))

    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    member.refresh_from_db()
    assert member.consent_email is False


def test_one_click_post_from_a_mail_client_needs_no_csrf_token(member):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        link(member),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.consent_email is False


def test_unsubscribing_twice_is_harmless(client, member):
    client.post(link(member))

    response = client.post(link(member))

    assert response.status_code == 200
    member.refresh_from_db()
    assert member.consent_email is False


def test_pending_emails_are_not_sent_after_unsubscribing(client, member, monkeypatch):
    monkeypatch.setattr("notifications.services.outbox._hand_off", lambda ids: None)
    (row,) = reward(member)

    client.post(link(member))
    notifications_deliver()

    assert mail.outbox == []
    row.refresh_from_db()
    assert row.status == Notification.Status.SKIPPED


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "999999" + token[token.index(":") :],  # another member's id
        lambda token: signing.Signer().sign(token.split(":")[0]),  # signed for another purpose
        lambda token: "garbage",
    ],
)
def test_a_tampered_link_is_refused(client, member, forge):
    token = forge(unsubscribe_token(member=member))

    get = client.get(reverse("notifications:unsubscribe", args=[token]))
    post = client.post(reverse("notifications:unsubscribe", args=[token]))

    assert get.status_code == 400
    assert post.status_code == 400
    assert "This link is not valid" in post.text
    member.refresh_from_db()
    assert member.consent_email is True


def test_another_members_link_does_not_unsubscribe_this_one(client, program):
    alice, bob = MemberFactory(program=program), MemberFactory(program=program)

    client.post(link(alice))

    bob.refresh_from_db()
    assert bob.consent_email is True


def test_the_page_speaks_the_members_language(client, program):
    member = MemberFactory(program=program, locale="es")

    response = client.get(link(member))

    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in response.text
