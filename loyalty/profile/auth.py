"""The profile page's session: which member is signed in, until when.

It lives in Django's session beside (never instead of) a staff login: signing a
member in or out touches only the ``profile_*`` keys. The session key is cycled at
sign-in, so a session id planted before it is worth nothing after. A session keeps the
member's ``sign_in_version`` of its sign-in and ends once the member's moves on (an email
change ends every session made before it).
"""

import time

from django.conf import settings
from django.http import HttpRequest

from loyalty.models import Member

SESSION_KEY = "profile_member_id"
EXPIRES_KEY = "profile_expires_at"
VERSION_KEY = "profile_sign_in_version"


def session_login(request: HttpRequest, member: Member) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = member.pk
    request.session[EXPIRES_KEY] = int(time.time()) + settings.PROFILE_SESSION_HOURS * 3600
    request.session[VERSION_KEY] = member.sign_in_version
    request._profile_member = member  # type: ignore[attr-defined]


def session_logout(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.pop(EXPIRES_KEY, None)
    request.session.pop(VERSION_KEY, None)
    request.session.cycle_key()
    request._profile_member = None  # type: ignore[attr-defined]


def session_member(request: HttpRequest) -> Member | None:
    """The signed-in member (with program and merchant loaded), or None once expired."""
    if hasattr(request, "_profile_member"):
        return request._profile_member
    member = None
    member_id = request.session.get(SESSION_KEY)
    if member_id is not None:
        if request.session.get(EXPIRES_KEY, 0) <= time.time():
            session_logout(request)
            return None
        member = Member.objects.select_related("program__merchant").filter(pk=member_id).first()
        if member is not None and member.sign_in_version != request.session.get(VERSION_KEY, 0):
            session_logout(request)
            return None
    request._profile_member = member  # type: ignore[attr-defined]
    return member
