"""Members: creating them (also on the fly from an order) and locking them for a write."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, MemberNotFound
from loyalty.ids import external_id_problem
from loyalty.models import Member, Program

LOCALES = [code for code, _name in settings.LANGUAGES]
UNCHANGED: Any = object()


def member_lock(*, program: Program, external_id: str, create: bool = False) -> Member:
    """The member's row, locked until the end of the caller's transaction.

    Every write to a member's points takes this lock first, so concurrent writes
    for one member queue up instead of racing. With ``create`` an unknown member
    is made on the fly; two requests creating the same member at once both end
    up with the one row (the insert ignores the conflict).
    """
    if create:
        _check_external_id(external_id)
    locked = Member.objects.select_for_update().filter(program=program, external_id=external_id)
    member = locked.first()
    if member is None:
        if not create:
            raise MemberNotFound(external_id=external_id)
        Member.objects.bulk_create(
            [Member(program=program, external_id=external_id)], ignore_conflicts=True
        )
        member = locked.get()
    member.program = program
    return member


def member_get(*, program: Program, external_id: str) -> Member:
    member = Member.objects.filter(program=program, external_id=external_id).first()
    if member is None:
        raise MemberNotFound(external_id=external_id)
    member.program = program
    return member


def _check_external_id(external_id: str) -> None:
    problem = external_id_problem(external_id)
    if problem:
        raise InvalidInput({"external_id": [problem]})


MAX_RATING = Decimal("999.99")


def rating_check(value: Any) -> Decimal | None:
    """A member's rating as sent (None clears it), or InvalidInput."""
    if value is None:
        return None
    try:
        rating = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        rating = Decimal("NaN")
    if not rating.is_finite() or not 0 <= rating <= MAX_RATING:
        raise InvalidInput({"rating": [str(_("Give a rating from 0 to 999.99, or null."))]})
    return rating.quantize(Decimal("0.01"))


@transaction.atomic
def member_upsert(
    *,
    program: Program,
    external_id: str,
    email: str = "",
    name: str = "",
    locale: str = "en",
    consent_email: bool = False,
    consent_push: bool = False,
    rating: Any = UNCHANGED,
) -> tuple[Member, bool]:
    """Create or update a member's profile (a full replace, as PUT). Returns it and whether
    it was created. ``rating`` (a tier condition) changes only when given; None clears it.
    A new rating moves a tier at the next daily evaluation, not at once."""
    _check_external_id(external_id)
    extra: dict[str, Any] = {}
    if rating is not UNCHANGED:
        extra["rating"] = rating_check(rating)
    if locale not in LOCALES:
        raise InvalidInput({"locale": [str(_("Choose one of: %s.")) % ", ".join(LOCALES)]})
    member, created = Member.objects.update_or_create(
        program=program,
        external_id=external_id,
        defaults={
            # Addresses are compared case-insensitively everywhere; store them so.
            "email": email.strip().lower(),
            "name": name,
            "locale": locale,
            "consent_email": consent_email,
            "consent_push": consent_push,
            **extra,
        },
    )
    member.program = program
    return member, created
