"""Signing members in to their profile page without a password to remember.

Two ways in: a one-time link emailed to the member's address, and a signed deep link
the shop asks for through the API for a customer already signed in there.

Invariants:
- a sign-in secret is stored only as its sha256 (``ProfileToken.token_hash``);
- a token signs in at most once, and only before it expires: it is spent under its
  row lock, so of any number of concurrent uses exactly one gets the member;
- asking for an email link answers the same whether or not the address belongs to a
  member (the caller never learns which), and is limited per address and per client IP,
  each counted per merchant;
- ``profile_sign_ins_end`` (an email change) ends every way in made before it: unused
  tokens are deleted under their row locks, so a link being spent at that moment either
  signs in first, into a session the raised ``Member.sign_in_version`` ends, or finds
  nothing.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.clientip import ip_bucket
from loyalty.errors import SignInLinkInvalid, SignInRateLimited
from loyalty.models import Member, Merchant, ProfileToken, Program
from loyalty.services.limits import attempt_count
from loyalty.storage.members import member_get

DEEP_LINK_SALT = "loyalty.profile.deep-link"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _site(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def signin_rate_check(*, merchant: Merchant, email: str, ip: str) -> None:
    """Count one request for a sign-in link; raise ``SignInRateLimited`` past the limits.

    Every request counts, whether or not the address is a member's, so the limit
    reveals nothing. Each merchant counts its own: customers of one shop behind one
    address (an office, a carrier's NAT) never lock out another shop's.
    """
    retry_after = attempt_count(
        prefix=settings.PROFILE_SIGNIN_KEY_PREFIX,
        counters=[
            (
                f"email:{merchant.pk}:{_hash(email.strip().lower())}",
                settings.PROFILE_SIGNIN_LIMIT_PER_EMAIL,
            ),
            (f"ip:{merchant.pk}:{ip_bucket(ip)}", settings.PROFILE_SIGNIN_LIMIT_PER_IP),
        ],
        window=settings.PROFILE_SIGNIN_WINDOW_SECONDS,
    )
    if retry_after is not None:
        raise SignInRateLimited(retry_after=retry_after)


def signin_link_create(*, member: Member, minutes: int) -> str:
    """A one-time sign-in link (the kind that is emailed), valid for ``minutes``."""
    secret = secrets.token_urlsafe(32)
    ProfileToken.objects.create(
        member=member,
        kind=ProfileToken.Kind.EMAIL,
        token_hash=_hash(secret),
        expires_at=timezone.now() + timedelta(minutes=minutes),
    )
    slug = member.program.merchant.slug
    return _site(reverse("profile:email-link", kwargs={"slug": slug, "token": secret}))


def member_language(member: Member, fallback: str) -> str:
    """The member's own language when we speak it ("es-MX" -> "es"), else ``fallback``."""
    code = (member.locale or "").replace("_", "-").split("-")[0].lower()
    return code if code in {code for code, _name in settings.LANGUAGES} else fallback


def signin_email_send(*, program: Program, email: str, language: str) -> bool:
    """Email a one-time sign-in link to the program's member with this address, if there is
    one, in the member's language (``language``, the asking browser's, only when the
    member's is not one we speak). Returns whether an email went out; callers must not
    tell the person who asked."""
    address = email.strip().lower()
    member = (
        Member.objects.filter(program=program, email=address)
        .select_related("program__merchant")
        .order_by("pk")
        .first()
    )
    if member is None or not address:
        return False
    minutes = settings.PROFILE_EMAIL_LINK_MINUTES
    merchant = member.program.merchant
    context = {
        "merchant": merchant,
        "member": member,
        "minutes": minutes,
        "url": signin_link_create(member=member, minutes=minutes),
    }
    with translation.override(member_language(member, language)):
        subject = render_to_string("profile/email/sign_in_subject.txt", context)
        text = render_to_string("profile/email/sign_in.txt", context)
        html = render_to_string("profile/email/sign_in.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[member.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True


def profile_link_create(*, program: Program, member_external_id: str) -> tuple[str, datetime]:
    """A short-lived, single-use URL that signs the member straight in (for the shop to
    redirect its signed-in customer to). Returns the URL and when it stops working."""
    member = member_get(program=program, external_id=member_external_id)
    nonce = secrets.token_urlsafe(18)
    expires_at = timezone.now() + timedelta(seconds=settings.PROFILE_DEEP_LINK_SECONDS)
    ProfileToken.objects.create(
        member=member, kind=ProfileToken.Kind.LINK, token_hash=_hash(nonce), expires_at=expires_at
    )
    token = signing.TimestampSigner(salt=DEEP_LINK_SALT).sign_object({"m": member.pk, "n": nonce})
    return _site(reverse("profile:deep-link", kwargs={"token": token})), expires_at


@transaction.atomic
def _spend(*, secret: str, kind: str, member_id: int | None = None) -> Member:
    """Mark the token used and return its member; ``SignInLinkInvalid`` if it cannot be."""
    token = (
        ProfileToken.objects.select_for_update(of=("self",))
        .select_related("member__program__merchant")
        .filter(token_hash=_hash(secret), kind=kind)
        .first()
    )
    now = timezone.now()
    if (
        token is None
        or token.used_at is not None
        or token.expires_at <= now
        or (member_id is not None and token.member_id != member_id)
    ):
        raise SignInLinkInvalid()
    token.used_at = now
    token.save(update_fields=["used_at"])
    return token.member


def signin_email_check(*, merchant: Merchant, secret: str) -> Member:
    """The member an unused, unexpired email link of this merchant belongs to (read only)."""
    token = (
        ProfileToken.objects.select_related("member__program__merchant")
        .filter(
            token_hash=_hash(secret),
            kind=ProfileToken.Kind.EMAIL,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            member__program__merchant=merchant,
        )
        .first()
    )
    if token is None:
        raise SignInLinkInvalid()
    return token.member


def signin_email_use(*, merchant: Merchant, secret: str) -> Member:
    """Spend an emailed link: its member, once."""
    member = _spend(secret=secret, kind=ProfileToken.Kind.EMAIL)
    if member.program.merchant_id != merchant.pk:
        # Spent all the same: a link that was tampered with is not tried again elsewhere.
        raise SignInLinkInvalid()
    return member


def profile_link_use(*, token: str) -> Member:
    """Spend a shop's deep link: its member, once, within its lifetime."""
    try:
        payload = signing.TimestampSigner(salt=DEEP_LINK_SALT).unsign_object(
            token, max_age=settings.PROFILE_DEEP_LINK_SECONDS
        )
        member_id, nonce = int(payload["m"]), str(payload["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise SignInLinkInvalid() from exc
    return _spend(secret=nonce, kind=ProfileToken.Kind.LINK, member_id=member_id)


def profile_tokens_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete tokens that expired more than ``older_than`` ago; returns how many."""
    deleted, _ = ProfileToken.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def profile_sign_ins_end(*, member: Member) -> int:
    """End the member's profile sessions (their ``sign_in_version`` falls behind) and delete
    its unused sign-in links; returns how many links were deleted. The caller holds the
    member's row lock and commits both with the change that calls for it."""
    Member.objects.filter(pk=member.pk).update(sign_in_version=F("sign_in_version") + 1)
    member.refresh_from_db(fields=["sign_in_version"])
    deleted, _ = ProfileToken.objects.filter(member=member, used_at__isnull=True).delete()
    return deleted
