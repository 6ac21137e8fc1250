"""Signing in to the profile page: emailed one-time links, shop deep links, sessions.

A link works once, before it expires; asking for one answers the same whether or not
the address is a member's; a signed-in member sees only their own data.
"""

import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail, signing
from django.test import Client, override_settings
from django.utils import timezone

from loyalty.models import ProfileToken
from loyalty.profile.auth import EXPIRES_KEY, SESSION_KEY
from loyalty.services.profile_access import DEEP_LINK_SALT, profile_link_create
from tests.factories import MemberFactory, ProgramFactory, StaffFactory
from tests.profile.conftest import deep_link_path, sign_in_link

pytestmark = pytest.mark.django_db


def ask_link(client, member, email=None, **extra):
    slug = member.program.merchant.slug
    return client.post(f"/profile/{slug}/sign-in/", {"email": email or member.email}, **extra)


def test_sign_in_page_is_per_merchant_and_shows_its_name(client, member):
    response = client.get(f"/profile/{member.program.merchant.slug}/sign-in/")

    assert response.status_code == 200
    assert member.program.merchant.name in response.content.decode()
    assert client.get("/profile/no-such-shop/sign-in/").status_code == 404


def test_email_link_signs_in_once(client, member):
    response = ask_link(client, member)
    link = urlsplit(sign_in_link(member.email)).path

    confirm = client.get(link)
    signed = client.post(link)
    page = client.get("/profile/")
    again = Client().post(link)

    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert mail.outbox[-1].subject == f"Your sign-in link for {member.program.merchant.name}"
    assert confirm.status_code == 200
    assert signed.status_code == 302
    assert signed["Location"] == "/profile/"
    assert page.status_code == 200
    assert 'data-testid="balance"' in page.content.decode()
    assert again.status_code == 400
    assert "expired or was already used" in again.content.decode()


def test_opening_the_email_link_does_not_spend_it(client, member):
    ask_link(client, member)
    link = urlsplit(sign_in_link(member.email)).path

    client.get(link)
    client.get(link)

    assert not ProfileToken.objects.filter(used_at__isnull=False).exists()
    assert client.post(link).status_code == 302


def test_email_is_matched_case_insensitively_and_stored_only_hashed(client, member):
    ask_link(client, member, email=member.email.upper())
    link = sign_in_link(member.email)
    secret = urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]

    token = ProfileToken.objects.get()
    assert token.member == member
    assert secret not in token.token_hash
    assert len(token.token_hash) == 64


def test_unknown_address_gets_the_same_answer_and_no_email(client, member):
    known = ask_link(client, member)
    unknown = ask_link(Client(), member, email="nobody@example.com")

    assert unknown.status_code == known.status_code == 200
    strip = lambda r, e: r.content.decode().replace(e, "").replace("csrfmiddlewaretoken", "")  # noqa: E731
    known_text, unknown_text = strip(known, member.email), strip(unknown, "nobody@example.com")
    assert (
        known_text.split("<main")[1].split("</main>")[0]
        == unknown_text.split("<main")[1].split("</main>")[0]
    )
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_an_address_of_another_programs_member_gets_no_link_here(client, member):
    other = MemberFactory(program=ProgramFactory())

    ask_link(client, member, email=other.email)

    assert mail.outbox == []


def test_email_link_expires_after_fifteen_minutes(client, member):
    ask_link(client, member)
    link = urlsplit(sign_in_link(member.email)).path
    ProfileToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.post(link).status_code == 400
    assert SESSION_KEY not in client.session


def test_email_link_lifetime_is_fifteen_minutes(client, member):
    ask_link(client, member)

    token = ProfileToken.objects.get()
    assert timedelta(minutes=14, seconds=59) < token.expires_at - token.created_at
    assert token.expires_at - token.created_at <= timedelta(minutes=15, seconds=1)


def test_email_link_of_one_merchant_does_not_work_on_another(client, member):
    other = ProgramFactory()
    ask_link(client, member)
    token = urlsplit(sign_in_link(member.email)).path.rstrip("/").rsplit("/", 1)[-1]

    response = client.post(f"/profile/{other.merchant.slug}/sign-in/{token}/")

    assert response.status_code == 400
    assert SESSION_KEY not in client.session


def test_invalid_email_address_is_refused_with_a_message(client, member):
    response = ask_link(client, member, email="not-an-address")

    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert mail.outbox == []


@override_settings(PROFILE_SIGNIN_LIMIT_PER_EMAIL=3)
def test_links_are_rate_limited_per_address(client, member):
    answers = [ask_link(Client(), member).status_code for _ in range(5)]

    assert answers == [200, 200, 200, 429, 429]
    assert len(mail.outbox) == 3


@override_settings(PROFILE_SIGNIN_LIMIT_PER_IP=2)
def test_links_are_rate_limited_per_client_ip(client, program):
    members = MemberFactory.create_batch(3, program=program)

    answers = [ask_link(client, m, REMOTE_ADDR="203.0.113.9").status_code for m in members]
    other_ip = ask_link(client, members[2], REMOTE_ADDR="203.0.113.10").status_code

    assert answers == [200, 200, 429]
    assert other_ip == 200


@override_settings(PROFILE_SIGNIN_LIMIT_PER_EMAIL=1)
def test_rate_limit_counts_unknown_addresses_too(client, member):
    first = ask_link(client, member, email="nobody@example.com").status_code
    second = ask_link(client, member, email="nobody@example.com").status_code

    assert (first, second) == (200, 429)


def test_sign_in_email_is_in_the_members_language_not_the_browsers(client, member):
    member.locale = "es"
    member.save(update_fields=["locale"])

    ask_link(client, member, HTTP_ACCEPT_LANGUAGE="tr")

    assert mail.outbox[-1].subject.startswith("Tu enlace")


def test_sign_in_email_is_in_the_browsers_language_when_we_do_not_speak_the_members(client, member):
    member.locale = "de"
    member.save(update_fields=["locale"])

    ask_link(client, member, HTTP_ACCEPT_LANGUAGE="es")

    assert mail.outbox[-1].subject.startswith("Tu enlace")


# Deep links from the shop


def test_api_deep_link_signs_the_member_straight_in(api_for, member, client):
    api = api_for(member.program, "orders")

    response = api.post(f"/api/v1/members/{member.external_id}/profile-link")
    url = response.json()["url"]
    signed = client.get(urlsplit(url).path)

    assert response.status_code == 201, response.content
    assert set(response.json()) == {"url", "expires_at"}
    assert signed.status_code == 302
    assert client.session[SESSION_KEY] == member.pk
    assert Client().get(urlsplit(url).path).status_code == 400


def test_api_deep_link_needs_the_orders_scope(api_for, member):
    response = api_for(member.program, "checkout").post(
        f"/api/v1/members/{member.external_id}/profile-link"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_api_deep_link_of_another_merchants_member_is_404(api_for, member):
    other = MemberFactory(program=ProgramFactory())

    response = api_for(member.program, "orders").post(
        f"/api/v1/members/{other.external_id}/profile-link"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"
    assert not ProfileToken.objects.exists()


def test_deep_link_expires(client, member):
    path = deep_link_path(member)

    with override_settings(PROFILE_DEEP_LINK_SECONDS=0):
        time.sleep(1.1)
        response = client.get(path)

    assert response.status_code == 400


def test_tampered_deep_link_is_refused(client, member):
    other = MemberFactory(program=member.program)
    url, _ = profile_link_create(program=member.program, member_external_id=member.external_id)
    token = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    payload = signing.TimestampSigner(salt=DEEP_LINK_SALT).unsign_object(token)
    forged = signing.TimestampSigner(salt="another").sign_object({**payload, "m": other.pk})
    swapped = token.replace(token.split(":")[0], forged.split(":")[0])

    assert client.get(f"/profile/link/{forged}/").status_code == 400
    assert client.get(f"/profile/link/{swapped}/").status_code == 400
    assert client.get("/profile/link/garbage/").status_code == 400
    assert SESSION_KEY not in client.session


def test_deep_link_signing_key_cannot_be_replayed_for_another_member(client, member):
    """A valid signature whose nonce belongs to another member's token is refused."""
    other = MemberFactory(program=member.program)
    url, _ = profile_link_create(program=member.program, member_external_id=member.external_id)
    payload = signing.TimestampSigner(salt=DEEP_LINK_SALT).unsign_object(
        urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    )
    forged = signing.TimestampSigner(salt=DEEP_LINK_SALT).sign_object({**payload, "m": other.pk})

    assert client.get(f"/profile/link/{forged}/").status_code == 400


# Sessions


def test_sign_out_needs_a_post_with_csrf(member, signed_in):
    client = signed_in(member, on=Client(enforce_csrf_checks=True))

    assert client.get("/profile/sign-out/").status_code == 405
    assert client.post("/profile/sign-out/").status_code == 403
    page = client.get("/profile/")
    token = page.context["csrf_token"]
    out = client.post("/profile/sign-out/", {"csrfmiddlewaretoken": str(token)})

    assert out.status_code == 302
    assert SESSION_KEY not in client.session
    after = client.get("/profile/", follow=True)
    assert 'data-testid="balance"' not in after.content.decode()


def test_sign_out_leads_back_to_the_shops_sign_in(client, signed_in, member):
    signed_in(member).post("/profile/sign-out/")

    response = client.get("/profile/")

    assert response.status_code == 302
    assert response["Location"] == f"/profile/{member.program.merchant.slug}/sign-in/"


def test_session_expires(client, signed_in, member):
    signed_in(member)
    session = client.session
    session[EXPIRES_KEY] = int(time.time()) - 1
    session.save()

    response = client.get("/profile/", follow=True)

    assert 'data-testid="balance"' not in response.content.decode()
    assert SESSION_KEY not in client.session


def test_sign_in_cycles_the_session_key(client, member):
    client.get(f"/profile/{member.program.merchant.slug}/sign-in/")
    before = client.session.session_key

    client.get(deep_link_path(member))

    assert client.session.session_key != before


def test_profile_sign_in_and_out_leave_a_staff_login_alone(client, member):
    staff = StaffFactory(merchant=member.program.merchant)
    client.force_login(staff)
    client.get(deep_link_path(member))

    client.post("/profile/sign-out/")

    assert client.get("/admin/").status_code == 200


def test_a_member_sees_only_their_own_data_whatever_the_url(client, signed_in, program):
    mine = MemberFactory(program=program, name="Mine Person")
    theirs = MemberFactory(program=program, name="Their Person")
    foreign = MemberFactory(program=ProgramFactory(), name="Foreign Person")
    client = signed_in(mine)

    pages = [
        client.get("/profile/"),
        client.get(f"/profile/?member={theirs.pk}&external_id={theirs.external_id}"),
        client.get("/profile/", {"profile_member_id": theirs.pk}),
        client.get(f"/profile/{foreign.program.merchant.slug}/", follow=True),
        client.get(f"/profile/{program.merchant.slug}/", follow=True),
    ]
    client.post("/profile/notifications/", {"member": theirs.pk, "email": ""})

    for response in pages:
        text = response.content.decode()
        assert "Their Person" not in text
        assert "Foreign Person" not in text
    assert "Mine Person" in pages[0].content.decode()
    theirs.refresh_from_db()
    assert theirs.consent_email is True


def test_openapi_schema_documents_the_profile_link(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/members/{external_id}/profile-link"]["post"]
    assert operation["operationId"] == "member_profile_link"
    assert {"201", "401", "403", "404"} <= set(operation["responses"])


def test_expired_tokens_are_purged_after_a_day(member):
    from loyalty.services.profile_access import profile_tokens_purge, signin_link_create

    signin_link_create(member=member, minutes=15)
    old = ProfileToken.objects.create(
        member=member,
        kind=ProfileToken.Kind.EMAIL,
        token_hash="0" * 64,
        expires_at=timezone.now() - timedelta(days=2),
    )

    assert profile_tokens_purge() == 1
    assert not ProfileToken.objects.filter(pk=old.pk).exists()
    assert ProfileToken.objects.count() == 1


def test_email_links_in_notifications_lead_to_the_shops_profile(client, member):
    from notifications.services.outbox import profile_url

    url = profile_url(member.program.merchant.slug)
    response = client.get(urlsplit(url).path)

    assert urlsplit(url).path == f"/profile/{member.program.merchant.slug}/"
    assert response.status_code == 302
    assert response["Location"] == f"/profile/{member.program.merchant.slug}/sign-in/"


def test_signed_out_visitor_can_switch_the_sign_in_page_language(client, member):
    sign_in = f"/profile/{member.program.merchant.slug}/sign-in/"

    client.post("/profile/language/", {"language": "ru", "next": sign_in})
    response = client.get(sign_in)

    assert response["Content-Language"] == "ru"
    assert "Прислать ссылку для входа" in response.content.decode()


@override_settings(PROFILE_SIGNIN_LIMIT_PER_IP=1, TRUSTED_PROXIES=["127.0.0.1"])
def test_behind_the_trusted_proxy_each_customer_counts_alone(client, program):
    """The production shape: every request comes from the TLS proxy on 127.0.0.1, which
    appends the client's address to X-Forwarded-For."""
    first, second = MemberFactory.create_batch(2, program=program)
    proxy = {"REMOTE_ADDR": "127.0.0.1"}

    a = ask_link(client, first, HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy).status_code
    b = ask_link(client, second, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy).status_code
    forged = ask_link(
        client, second, HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.1", **proxy
    ).status_code

    assert (a, b, forged) == (200, 200, 429)


@override_settings(PROFILE_SIGNIN_LIMIT_PER_IP=1, TRUSTED_PROXIES=["127.0.0.1"])
def test_a_forwarded_header_from_anyone_but_a_trusted_proxy_is_ignored(client, program):
    first, second = MemberFactory.create_batch(2, program=program)
    direct = {"REMOTE_ADDR": "203.0.113.9"}

    a = ask_link(client, first, HTTP_X_FORWARDED_FOR="198.51.100.1", **direct).status_code
    b = ask_link(client, second, HTTP_X_FORWARDED_FOR="198.51.100.2", **direct).status_code

    assert (a, b) == (200, 429)


@override_settings(PROFILE_SIGNIN_LIMIT_PER_IP=2)
def test_the_per_ip_limit_is_counted_per_merchant(client, program):
    """Customers of many shops behind one address: one shop's traffic never locks out
    another shop's customers."""
    own = MemberFactory.create_batch(3, program=program)
    other = MemberFactory(program=ProgramFactory())
    same_ip = {"REMOTE_ADDR": "203.0.113.9"}

    answers = [ask_link(client, m, **same_ip).status_code for m in own]
    other_shop = ask_link(client, other, **same_ip).status_code

    assert answers == [200, 200, 429]
    assert other_shop == 200


def test_a_signed_in_member_skips_the_sign_in_page(client, signed_in, member):
    response = signed_in(member).get(f"/profile/{member.program.merchant.slug}/sign-in/")

    assert response.status_code == 302
    assert response["Location"] == "/profile/"
