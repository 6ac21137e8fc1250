"""A member's email is the key to their profile page (the sign-in link goes there), so
changing it is a manager's act: audited, it ends the member's sessions and outstanding
sign-in links, and tells the old address. Every other profile edit by staff is audited
with its old and new values. The API's change (the shop's own authority) ends sessions
and links and tells the old address too."""

import uuid
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from loyalty.models import AuditEntry, Member, ProfileToken, Program, User
from loyalty.roles import RoleForbidden
from loyalty.services.members import member_upsert
from notifications.models import Event, Notification
from notifications.services import notifications_deliver
from tests.factories import MemberFactory, StaffFactory
from tests.profile.conftest import sign_in_link
from tests.threads import at_once

pytestmark = pytest.mark.django_db

OLD, NEW, EVIL = "alice@example.com", "alice.new@example.com", "mallory@evil.example"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    settings.PROFILE_SIGNIN_KEY_PREFIX = f"profile-signin-test-{uuid.uuid4().hex}"


@pytest.fixture
def alice(shop: Program) -> Member:
    return MemberFactory(
        program=shop, external_id="alice", email=OLD, name="Alice", locale="en", consent_email=True
    )


def change_url(member: Member) -> str:
    return reverse("admin:loyalty_member_change", args=[member.pk])


def profile_form(member: Member, **changes: str) -> dict[str, str]:
    """The member page's profile form as the browser sends it, with ``changes``."""
    data = {
        "email": member.email,
        "name": member.name,
        "locale": member.locale,
        "birth_date": "",
    }
    if member.consent_email:
        data["consent_email"] = "on"
    if member.consent_push:
        data["consent_push"] = "on"
    data.update(changes)
    return data


def ask_sign_in_link(member: Member, email: str) -> Client:
    client = Client()
    response = client.post(f"/profile/{member.program.merchant.slug}/sign-in/", {"email": email})
    assert response.status_code == 200
    return client


def sign_in_by_email(member: Member) -> Client:
    """A browser signed in to the member's profile page through an emailed link."""
    client = ask_sign_in_link(member, member.email)
    link = urlsplit(sign_in_link(member.email)).path
    assert client.post(link).status_code == 302
    assert client.get("/profile/").status_code == 200
    return client


def signed_in(client: Client) -> bool:
    page = client.get("/profile/")
    return page.status_code == 200 and 'data-testid="balance"' in page.content.decode()


def deliver_all() -> None:
    notifications_deliver()


# support: the attack of the review, step by step


def test_support_cannot_take_over_a_profile_by_changing_its_email(shop, alice, staff_client):
    _support, client = staff_client(shop, User.Role.SUPPORT)

    response = client.post(change_url(alice), profile_form(alice, email=EVIL))
    ask_sign_in_link(alice, EVIL)

    assert response.status_code == 302  # the rest of the form is saved; the email is not
    alice.refresh_from_db()
    assert alice.email == OLD
    assert not [m for m in mail.outbox if EVIL in m.to]
    assert not AuditEntry.objects.filter(action="member.email_change").exists()


def test_support_sees_the_email_but_no_field_to_change_it(shop, alice, staff_client):
    _support, client = staff_client(shop, User.Role.SUPPORT)
    _manager, manager_client = staff_client(shop, User.Role.MANAGER)

    support_page = client.get(change_url(alice)).content.decode()
    manager_page = manager_client.get(change_url(alice)).content.decode()

    assert OLD in support_page
    assert 'name="email"' not in support_page
    assert 'name="name"' in support_page  # support still edits the rest of the profile
    assert 'name="email"' in manager_page


def test_the_services_refuse_an_email_change_by_support_or_viewer(shop, alice):
    for role in (User.Role.SUPPORT, User.Role.VIEWER):
        user = StaffFactory(merchant=shop.merchant, role=role)
        with pytest.raises(RoleForbidden):
            member_upsert(program=shop, external_id="alice", email=EVIL, name="Alice", actor=user)
    alice.refresh_from_db()
    assert alice.email == OLD


def test_another_merchants_manager_is_refused_by_the_service(shop, other_shop, alice):
    stranger = StaffFactory(merchant=other_shop.merchant, role=User.Role.MANAGER)

    with pytest.raises(RoleForbidden):
        member_upsert(program=shop, external_id="alice", email=EVIL, actor=stranger)
    with pytest.raises(RoleForbidden):
        member_upsert(program=shop, external_id="alice", email=OLD, name="Hacked", actor=stranger)

    alice.refresh_from_db()
    assert (alice.email, alice.name) == (OLD, "Alice")
    assert not AuditEntry.objects.exists()


def test_a_viewer_cannot_edit_a_profile(shop, alice):
    viewer = StaffFactory(merchant=shop.merchant, role=User.Role.VIEWER)
    with pytest.raises(RoleForbidden):
        member_upsert(program=shop, external_id="alice", email=OLD, name="Hacked", actor=viewer)
    alice.refresh_from_db()
    assert alice.name == "Alice"


# every staff edit is audited


def test_a_profile_edit_by_support_is_audited_with_before_and_after(shop, alice, staff_client):
    support, client = staff_client(shop, User.Role.SUPPORT)

    client.post(change_url(alice), profile_form(alice, name="Alice Smith", locale="es"))
    client.post(change_url(alice), profile_form(alice, name="Alice Smith", locale="es"))  # same

    [entry] = AuditEntry.objects.filter(action="member.update")
    assert (entry.actor, entry.actor_name, entry.merchant_id) == (
        support,
        support.username,
        shop.merchant_id,
    )
    assert (entry.target_type, entry.target_id) == ("loyalty.member", str(alice.pk))
    assert entry.changes == {"name": ["Alice", "Alice Smith"], "locale": ["en", "es"]}


# a manager's email change


def test_a_managers_email_change_is_audited_and_ends_every_way_in(shop, alice, staff_client):
    manager, client = staff_client(shop, User.Role.MANAGER)
    browser = sign_in_by_email(alice)
    ask_sign_in_link(alice, OLD)
    outstanding = urlsplit(sign_in_link(OLD)).path
    mail.outbox.clear()

    response = client.post(change_url(alice), profile_form(alice, email=NEW.upper()))

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == NEW
    [entry] = AuditEntry.objects.filter(action="member.email_change")
    assert (entry.actor, entry.target_id) == (manager, str(alice.pk))
    assert entry.changes["email"] == [OLD, NEW]
    assert not AuditEntry.objects.filter(action="member.update").exists()
    assert not signed_in(browser)  # the session made before the change is over
    assert Client().post(outstanding).status_code == 400  # so is the link sent before it
    assert not ProfileToken.objects.filter(member=alice, used_at__isnull=True).exists()
    # The new address signs in as usual.
    assert signed_in(sign_in_by_email(alice))


def test_the_old_address_is_told_even_without_consent_to_emails(shop, alice, staff_client):
    Member.objects.filter(pk=alice.pk).update(consent_email=False)
    alice.refresh_from_db()
    _manager, client = staff_client(shop, User.Role.MANAGER)

    client.post(change_url(alice), profile_form(alice, email=NEW))
    deliver_all()

    [notice] = Notification.objects.filter(member=alice, event=Event.EMAIL_CHANGED)
    assert (notice.channel, notice.to_address, notice.status) == ("email", OLD, "sent")
    [sent] = [m for m in mail.outbox if OLD in m.to]
    assert sent.to == [OLD]
    assert shop.merchant.name in sent.subject
    assert "was changed" in sent.subject
    assert "List-Unsubscribe" not in sent.extra_headers
    assert NEW not in sent.body  # the old address learns nothing of the new one
    assert not [m for m in mail.outbox if NEW in m.to]


@pytest.mark.parametrize(
    ("locale", "words"),
    [("es", "Se ha cambiado"), ("ru", "изменён"), ("tr", "değiştirildi")],
)
def test_the_notice_is_in_the_members_language(shop, alice, locale, words):
    Member.objects.filter(pk=alice.pk).update(locale=locale)
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)

    member_upsert(program=shop, external_id="alice", email=NEW, name="Alice", locale=locale,
                  consent_email=True, actor=manager)  # fmt: skip
    deliver_all()

    [sent] = [m for m in mail.outbox if OLD in m.to]
    assert words in sent.subject
    assert shop.merchant.name in sent.body


def test_clearing_the_email_also_ends_sessions_and_tells_the_old_address(shop, alice):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    browser = sign_in_by_email(alice)

    member_upsert(program=shop, external_id="alice", email="", name="Alice", actor=manager)
    deliver_all()

    assert not signed_in(browser)
    assert [m.to for m in mail.outbox if "was changed" in m.subject] == [[OLD]]


# the integrator's API: the shop's own authority, with the same consequences


def test_the_apis_email_change_ends_sessions_and_links_and_tells_the_old_address(
    shop, alice, api_for
):
    api = api_for(shop, "orders")
    browser = sign_in_by_email(alice)
    ask_sign_in_link(alice, OLD)
    outstanding = urlsplit(sign_in_link(OLD)).path

    response = api.put(
        "/api/v1/members/alice",
        {"email": NEW, "name": "Alice", "locale": "en", "consent": {"email": True}},
        format="json",
    )
    deliver_all()

    assert response.status_code == 200, response.content
    assert response.json()["email"] == NEW
    assert not signed_in(browser)
    assert Client().post(outstanding).status_code == 400
    assert [m.to for m in mail.outbox if "was changed" in m.subject] == [[OLD]]
    [entry] = AuditEntry.objects.filter(action="member.email_change")
    assert entry.actor is None
    assert entry.actor_name.startswith("API key ")
    assert entry.changes["email"] == [OLD, NEW]


def test_an_api_update_that_keeps_the_email_keeps_the_session(shop, alice, api_for):
    api = api_for(shop, "orders")
    browser = sign_in_by_email(alice)

    response = api.put(
        "/api/v1/members/alice",
        {"email": OLD.upper(), "name": "Alice B", "locale": "es", "consent": {"email": True}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert signed_in(browser)
    assert not Notification.objects.filter(event=Event.EMAIL_CHANGED).exists()
    assert not AuditEntry.objects.exists()  # the shop's profile syncs are not staff edits


# at once


@pytest.mark.django_db(transaction=True)
def test_a_link_spent_while_the_email_changes_never_leaves_a_working_session(shop, alice):
    manager = StaffFactory(merchant=shop.merchant, role=User.Role.MANAGER)
    for _attempt in range(3):
        Member.objects.filter(pk=alice.pk).update(email=OLD)
        browser = ask_sign_in_link(alice, OLD)
        link = urlsplit(sign_in_link(OLD)).path

        at_once(
            [
                lambda browser=browser, link=link: browser.post(link),
                lambda: member_upsert(
                    program=shop, external_id="alice", email=NEW, name="Alice", actor=manager
                ),
            ]
        )

        assert not signed_in(browser)
