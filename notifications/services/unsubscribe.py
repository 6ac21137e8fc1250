"""One-click unsubscribe: a signed link per member that turns email consent off.

The token is the member's id signed with the SECRET_KEY and a salt used for
nothing else, so a link from one email cannot be forged for another member
nor reused for another purpose. It does not expire: an old email's link
must still work (RFC 8058 one-click unsubscribe).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Member

SALT = "notifications.unsubscribe.email"


def unsubscribe_token(*, member: Member) -> str:
    return signing.Signer(salt=SALT).sign(str(member.pk))


def unsubscribe_url(*, member: Member) -> str:
    """The absolute link for emails (SITE_URL + the unsubscribe view)."""
    path = reverse("notifications:unsubscribe", args=[unsubscribe_token(member=member)])
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_urls() -> Callable[[int], str]:
    """``unsubscribe_url`` for many members: the signer and the address are made once, and
    each member's link is the same text ``unsubscribe_url`` gives (tokens need no quoting)."""
    signer = signing.Signer(salt=SALT)
    marker = "0:TOKEN"
    path = reverse("notifications:unsubscribe", args=[marker])
    head, tail = (settings.SITE_URL.rstrip("/") + path).split(marker)
    return lambda member_id: head + signer.sign(str(member_id)) + tail


def member_from_token(*, token: str) -> Member | None:
    """The member a token was made for; None when it was tampered with or the member is gone."""
    try:
        member_id = int(signing.Signer(salt=SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Member.objects.select_related("program__merchant").filter(pk=member_id).first()


def member_unsubscribe_email(*, member: Member) -> None:
    """Turn email consent off. Only that column is written, so a concurrent order's balance
    update is never overwritten; pending emails are skipped at delivery."""
    Member.objects.filter(pk=member.pk).update(consent_email=False, updated_at=timezone.now())
    member.consent_email = False
