"""Staff second factor: one TOTP authenticator app (django-otp's ``TOTPDevice``) per user.

Invariants:
- Only a confirmed device counts. A user has at most one: enrolling starts an unconfirmed
  device, and the code it then shows confirms it and replaces any earlier one.
- A code is spent once. Each device keeps the time step of the last code it accepted and
  refuses that one and any older one; the device row is locked (``SELECT ... FOR UPDATE``)
  while a code is checked, so two requests cannot both spend the same code. Wrong codes
  slow the device down (django-otp's exponential throttle).
- Turning the second factor on or off leaves an entry in the audit trail.
"""

from __future__ import annotations

from base64 import b32encode

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty.audit import Action, audit_record
from loyalty.errors import TwoFactorCodeInvalid, TwoFactorCodeMissing, TwoFactorRequired
from loyalty.models import User

DEVICE_NAME = "Authenticator app"


def totp_device(*, user: User) -> TOTPDevice | None:
    """The user's confirmed device, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def two_factor_enrolled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_must_enrol(*, user: User) -> bool:
    """Whether this signed-in staff user has to set up a device before using the admin."""
    return bool(
        settings.ADMIN_2FA_REQUIRED
        and user.is_active
        and user.is_staff
        and not two_factor_enrolled(user=user)
    )


def totp_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    text = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device the user is setting up: the same one until it is confirmed, so
    scanning the code again (a reload, a second try) gives the same secret."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one pending device
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _verify(device: TOTPDevice, token: str) -> bool:
    token = (token or "").replace(" ", "")
    return bool(token.isdigit()) and device.verify_token(token)


def totp_enrolment_confirm(*, user: User, token: str) -> TOTPDevice:
    """Confirm the pending device with a code it shows; it replaces any earlier device."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is not None and _verify(device, token):
            replaced = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()[0]
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_record(
                merchant=user.merchant_id,
                actor=user,
                action=Action.TWO_FACTOR_ENABLE,
                target=user,
                changes={"two_factor": [bool(replaced), True]},
            )
            return device
    # Refused after the commit, so the device's throttle keeps the wrong code.
    raise TwoFactorCodeInvalid()


def totp_verify(*, user: User, token: str) -> TOTPDevice:
    """The user's confirmed device if ``token`` is its current, unspent code; else refused."""
    if not (token or "").strip():
        raise TwoFactorCodeMissing()
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            .first()
        )
        if device is not None and _verify(device, token):
            return device
    # Refused after the commit, so the device's throttle keeps the wrong code.
    raise TwoFactorCodeInvalid()


def totp_remove(*, user: User, token: str) -> None:
    """The user turns the second factor off, proving it with a current code; refused where
    staff must have one (``ADMIN_2FA_REQUIRED``)."""
    if settings.ADMIN_2FA_REQUIRED:
        raise TwoFactorRequired()
    totp_verify(user=user, token=token)
    with transaction.atomic():
        _remove(user=user, actor=user)


def totp_reset(*, user: User, actor: User) -> None:
    """A superuser removes a staff user's devices (a lost phone): they enrol again."""
    with transaction.atomic():
        _remove(user=user, actor=actor)


def _remove(*, user: User, actor: User) -> None:
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    if removed:
        audit_record(
            merchant=user.merchant_id,
            actor=actor,
            action=Action.TWO_FACTOR_REMOVE,
            target=user,
            changes={"two_factor": [True, False]},
        )
