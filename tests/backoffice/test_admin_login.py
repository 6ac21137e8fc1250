"""The admin's sign-in: wrong passwords lock a username out from one address for a while,
and a staff user who set up an authenticator signs in only with a fresh code from it (each
code once, even when many requests bring it at the same time)."""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty.errors import TwoFactorCodeInvalid
from loyalty.models import AuditEntry
from loyalty.services.two_factor import totp_verify
from tests.factories import ProgramFactory, StaffFactory
from tests.threads import at_once

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
TWO_FACTOR = reverse("admin:two_factor")
MEMBERS = reverse("admin:loyalty_member_changelist")


@pytest.fixture
def staff(db):
    return StaffFactory(username="clerk", merchant=ProgramFactory().merchant)


def sign_in(client: Client, username="clerk", password="pw", code=None, address="10.0.0.1"):  # noqa: S107
    data = {"username": username, "password": password, "next": INDEX}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return client.get(INDEX).status_code == 200


def code(device: TOTPDevice, seconds_ago: int = 0) -> str:
    """The code the user's authenticator app shows now (or some seconds ago)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() - seconds_ago
    return f"{totp.token():0{device.digits}d}"


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


# Wrong passwords


def test_wrong_passwords_lock_out_and_the_right_one_is_then_refused(staff, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, password="guess").status_code == 200

    last_wrong = sign_in(client, password="guess")
    right = sign_in(client)

    assert last_wrong.status_code == 429
    assert right.status_code == 429
    assert not signed_in(client)
    page = right.content.decode()
    assert 'id="lockout"' in page
    assert "Try again in 15 minutes" in page
    assert "Loyalty backoffice" in page  # the admin's own look, not a bare page
    assert 'href="/static/admin/css/base.css"' in page
    assert 'name="password"' not in page


def test_the_right_password_works_again_after_the_cool_off(staff, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 429

    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        assert sign_in(client).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        response = sign_in(client)

    assert response.status_code == 302
    assert signed_in(client)


def test_the_lock_out_is_per_username_and_address(staff, settings):
    StaffFactory(username="other", merchant=staff.merchant)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), password="guess", address="10.0.0.1")

    assert sign_in(Client(), address="10.0.0.1").status_code == 429
    assert sign_in(Client(), address="10.0.0.2").status_code == 302
    assert sign_in(Client(), username="other", address="10.0.0.1").status_code == 302


def test_a_successful_sign_in_forgets_earlier_wrong_passwords(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(Client(), password="guess")
    assert sign_in(Client()).status_code == 302

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(Client(), password="guess")
    assert sign_in(Client()).status_code == 302


def test_the_client_address_comes_from_the_project_function(staff, settings, monkeypatch):
    monkeypatch.setattr("loyalty.clientip.client_ip", lambda request: "192.0.2.7")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), password="guess", address="10.0.0.1")

    # Another REMOTE_ADDR, but the same client as the project's function sees it.
    assert sign_in(Client(), address="10.0.0.9").status_code == 429


# The second factor at sign-in


def test_an_enrolled_user_without_a_code_is_refused(staff):
    enrolled(staff)
    client = Client()

    response = sign_in(client)

    assert response.status_code == 200
    assert "type the code your authenticator app shows" in response.content.decode()
    assert not signed_in(client)


def test_an_enrolled_user_with_the_current_code_signs_in(staff):
    device = enrolled(staff)
    client = Client()

    response = sign_in(client, code=code(device))

    assert response.status_code == 302
    assert signed_in(client)
    assert client.get(MEMBERS).status_code == 200


def test_a_code_is_accepted_once(staff):
    device = enrolled(staff)
    used = code(device)
    assert sign_in(Client(), code=used).status_code == 302

    again = Client()
    response = sign_in(again, code=used)

    assert response.status_code == 200
    assert "already used" in response.content.decode()
    assert not signed_in(again)


def test_an_old_code_is_refused(staff):
    device = enrolled(staff)
    client = Client()

    response = sign_in(client, code=code(device, seconds_ago=120))

    assert response.status_code == 200
    assert not signed_in(client)


def test_a_wrong_code_is_refused_even_with_the_right_password(staff):
    device = enrolled(staff)
    wrong = f"{(int(code(device)) + 1) % 10**6:06d}"
    client = Client()

    assert sign_in(client, code=wrong).status_code == 200
    assert sign_in(client, code="abcdef").status_code == 200
    assert not signed_in(client)


def test_wrong_codes_count_as_wrong_passwords(staff, settings):
    enrolled(staff)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(Client(), code="000000").status_code == 200

    assert sign_in(Client(), code="000000").status_code == 429


def test_a_session_from_before_the_authenticator_no_longer_opens_the_admin(staff):
    client = Client()
    assert sign_in(client).status_code == 302
    enrolled(staff)

    response = client.get(MEMBERS)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# Setting up an authenticator


def test_staff_set_up_an_authenticator_and_then_sign_in_with_it(staff):
    client = Client()
    sign_in(client)

    page = client.get(TWO_FACTOR)
    text = page.content.decode()
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', text).group(1)
    confirmed = client.post(TWO_FACTOR, {"action": "confirm", "token": code(pending)})

    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "<svg" in text  # the QR code, drawn on the server: no image from elsewhere
    assert "otpauth://totp/Loyalty%20backoffice%3Aclerk?secret=" in text
    assert secret.replace(" ", "") in text.replace(" ", "")
    assert confirmed.status_code == 302
    assert TOTPDevice.objects.get(user=staff).confirmed
    assert signed_in(client)  # this session gave the code
    entry = AuditEntry.objects.get(action="staff.two_factor_enable")
    assert (entry.actor, entry.merchant_id) == (staff, staff.merchant_id)

    fresh = Client()
    assert sign_in(fresh).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        later = code(TOTPDevice.objects.get(user=staff))
        assert sign_in(fresh, code=later).status_code == 302


def test_a_wrong_code_does_not_turn_the_authenticator_on(staff):
    client = Client()
    sign_in(client)
    client.get(TWO_FACTOR)
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)

    response = client.post(TWO_FACTOR, {"action": "confirm", "token": code(pending, 300)})

    assert response.status_code == 200
    assert "not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()
    assert sign_in(Client()).status_code == 302  # still password only


def test_reloading_the_page_keeps_the_same_secret(staff):
    client = Client()
    sign_in(client)

    client.get(TWO_FACTOR)
    client.get(TWO_FACTOR)

    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_staff_turn_it_off_with_a_current_code(staff):
    device = enrolled(staff)
    client = Client()
    sign_in(client, code=code(device))

    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        response = client.post(TWO_FACTOR, {"action": "remove", "token": code(device)})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=staff).exists()
    assert AuditEntry.objects.filter(action="staff.two_factor_remove", actor=staff).exists()


def test_only_a_signed_in_staff_user_reaches_the_page(db):
    response = Client().get(TWO_FACTOR)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# Required for all staff


def test_when_required_staff_without_an_authenticator_reach_only_its_page(staff, settings):
    settings.ADMIN_2FA_REQUIRED = True
    client = Client()

    sign_in(client)
    members = client.get(MEMBERS, follow=True)

    assert members.redirect_chain[-1][0] == TWO_FACTOR
    assert "set it up to continue" in members.content.decode()
    pending = TOTPDevice.objects.get(user=staff, confirmed=False)
    client.post(TWO_FACTOR, {"action": "confirm", "token": code(pending)})
    assert client.get(MEMBERS).status_code == 200


def test_when_required_it_cannot_be_turned_off(staff, settings):
    settings.ADMIN_2FA_REQUIRED = True
    device = enrolled(staff)
    client = Client()
    sign_in(client, code=code(device))

    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=False):
        response = client.post(TWO_FACTOR, {"action": "remove", "token": code(device)})

    assert response.status_code == 200
    assert TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def test_when_required_the_unenrolled_can_sign_out(staff, settings):
    settings.ADMIN_2FA_REQUIRED = True
    client = Client()
    sign_in(client)

    client.post(TWO_FACTOR, {"action": "sign_out"})

    assert "_auth_user_id" not in client.session


# A lost authenticator


def test_a_superuser_removes_a_lost_authenticator_and_staff_cannot(staff, django_user_model):
    device = enrolled(staff)
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    boss = Client()
    boss.force_login(root)
    delete = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    peer = Client()
    peer_user = StaffFactory(merchant=staff.merchant)
    peer.force_login(peer_user)

    assert peer.get(delete).status_code in (302, 403)
    assert boss.post(delete, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=staff).exists()
    entry = AuditEntry.objects.get(action="staff.two_factor_remove")
    assert (entry.actor, entry.target_id) == (root, str(staff.pk))


# Concurrency


@pytest.mark.django_db(transaction=True)
def test_one_code_sent_by_many_requests_at_once_is_spent_once():
    staff = StaffFactory(username="clerk", merchant=ProgramFactory().merchant)
    device = enrolled(staff)
    current = code(device)

    results = at_once([lambda: totp_verify(user=staff, token=current)] * 6)

    assert sum(isinstance(result, TOTPDevice) for result in results) == 1
    assert all(isinstance(result, (TOTPDevice, TwoFactorCodeInvalid)) for result in results), (
        results
    )
