"""Members: creating them (also on the fly from an order) and locking them for a write."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, MemberNotFound
from loyalty.ids import external_id_problem
from loyalty.models import Member, Program

LOCALES = [code for code, _name in settings.LANGUAGES]


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
) -> tuple[Member, bool]:
    """Create or update a member's profile (a full replace, as PUT). Returns it and whether
    it was created."""
    _check_external_id(external_id)
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
        },
    )
    member.program = program
    return member, created


def member_locale_set(*, member: Member, locale: str) -> Member:
    """The member's language for pages, emails and push (one of settings.LANGUAGES)."""
    if locale not in LOCALES:
        raise InvalidInput({"locale": [str(_("Choose one of: %s.")) % ", ".join(LOCALES)]})
    Member.objects.filter(pk=member.pk).update(locale=locale, updated_at=timezone.now())
    member.locale = locale
    return member


def member_email_consent_set(*, member: Member, consent: bool) -> Member:
    """The member agrees to (or declines) emails about their points and rewards."""
    # Only this column: a concurrent order's balance update is never overwritten.
    Member.objects.filter(pk=member.pk).update(consent_email=consent, updated_at=timezone.now())
    member.consent_email = consent
    return member
