"""Members: creating them (also on the fly from an order), locking them for a write, and
their profiles.

A member's email address is the key to their profile page (the sign-in link goes there),
so a change of it, by staff or by the shop through the API, is audited, ends every way in
made before it (sessions and unused sign-in links) and tells the old address; only a
manager (or the shop's key) may make it. Every other profile edit by staff is audited with
its old and new values.
"""

from datetime import date
from decimal import Decimal, InvalidOperation
from types import EllipsisType
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.audit import Action, audit_changes, audit_record
from loyalty.errors import InvalidInput, MemberNotFound
from loyalty.ids import external_id_problem
from loyalty.models import Member, Order, Program, User
from loyalty.roles import Permission, role_check, role_check_merchant
from loyalty.services.bonuses import signup_bonus_award
from loyalty.services.conversion import rewards_convert
from loyalty.services.profile_access import profile_sign_ins_end
from loyalty.storage.members import member_locked, members_create, members_lock
from notifications.models import Event
from notifications.services import notice_enqueue

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
    member = member_locked(program=program, external_id=external_id)
    if member is None:
        if not create:
            raise MemberNotFound(external_id=external_id)
        return member_create_locked(program=program, external_id=external_id)
    return member


def member_create_locked(*, program: Program, external_id: str) -> Member:
    """Create a member that was not found (or take the one a concurrent writer has just
    created), locked, with its sign-up bonus."""
    _check_external_id(external_id)
    made = members_create(program=program, external_ids=[external_id])
    if external_id in made:
        member = made[external_id]
        # Made by this transaction: the bonus cannot be there yet.
        signup_bonus_award(member=member, new=True)
        return member
    # A concurrent writer made it (and gave its bonus): take it as it is, locked.
    (member,) = members_lock(program=program, external_ids=[external_id]).values()
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
    birth_date: date | None | EllipsisType = ...,
    referred_by: str | None | EllipsisType = ...,
    rating: Any = UNCHANGED,
    actor: User | None = None,
    actor_name: str = "",
) -> tuple[Member, bool]:
    """Create or update a member's profile (a full replace, as PUT). Returns it and whether
    it was created.

    ``birth_date``, ``referred_by`` (the referrer's external id) and ``rating`` (a tier
    condition; None clears it) change only when given, so integrators that do not know
    them keep them. A new member gets the program's sign-up bonus. A new rating moves a
    tier at the next daily evaluation, not at once.

    ``actor`` is the staff user who edits (the member page, an import): the role must
    allow editing profiles (creating a member or changing an email address: managing the
    shop), the user must work for the program's merchant, and the changed fields go to the
    audit trail. Without one the caller is the shop (``actor_name`` says which API key).
    A changed email address, whoever changes it, ends the member's sessions and sign-in
    links and tells the old address (``member_email_changed``).
    """
    _check_external_id(external_id)
    if actor is not None:
        role_check(user=actor, permission=Permission.MEMBERS)
        role_check_merchant(user=actor, merchant_id=program.merchant_id)
    values = _profile_values(
        email=email, name=name, locale=locale, consent_email=consent_email,
        consent_push=consent_push, birth_date=birth_date, rating=rating,
    )  # fmt: skip
    member, created = _member_take(
        program=program, external_id=external_id, values=values, actor=actor
    )
    member.program = program
    if not created:
        _profile_update(member=member, values=values, actor=actor, actor_name=actor_name)
    if isinstance(referred_by, str) and referred_by:
        _referral_set(member=member, referrer_external_id=referred_by)
    if created:
        signup_bonus_award(member=member)
        rewards_convert(member=member, program=program)
    return member, created


def _profile_values(
    *, email: str, name: str, locale: str, consent_email: bool, consent_push: bool,
    birth_date: date | None | EllipsisType, rating: Any,
) -> dict[str, Any]:  # fmt: skip
    """The profile columns to write, checked before any row is read or locked (bad input
    changes nothing). Birth date and rating only when given: an integrator that does not
    know them keeps the member's."""
    extra: dict[str, Any] = {}
    if rating is not UNCHANGED:
        extra["rating"] = rating_check(rating)
    if locale not in LOCALES:
        raise InvalidInput({"locale": [str(_("Choose one of: %s.")) % ", ".join(LOCALES)]})
    values: dict[str, Any] = {
        # Addresses are compared case-insensitively everywhere; store them so.
        "email": email.strip().lower(),
        "name": name,
        "locale": locale,
        "consent_email": consent_email,
        "consent_push": consent_push,
    }
    if not isinstance(birth_date, EllipsisType):
        if birth_date is not None and birth_date > timezone.localdate():
            raise InvalidInput({"birth_date": [str(_("A birth date cannot be in the future."))]})
        values["birth_date"] = birth_date
    return values | extra


def _member_take(
    *, program: Program, external_id: str, values: dict[str, Any], actor: User | None
) -> tuple[Member, bool]:
    """The member's row, locked, and whether this call created it (with ``values``)."""
    locked = Member.objects.select_for_update().filter(program=program, external_id=external_id)
    member = locked.first()
    if member is not None:
        return member, False
    # Creating a member is the shop's business: a staff user must be a manager.
    if actor is not None:
        role_check(user=actor, permission=Permission.MANAGE)
    member, created = Member.objects.get_or_create(
        program=program, external_id=external_id, defaults=values
    )
    if not created:  # a concurrent writer made it first: update it as found
        member = Member.objects.select_for_update().get(pk=member.pk)
    return member, created


def _profile_update(
    *, member: Member, values: dict[str, Any], actor: User | None, actor_name: str
) -> None:
    """Write the profile fields that change (the caller holds the member's row lock)."""
    changed = audit_changes({name: getattr(member, name) for name in values}, values)
    if not changed:
        return
    if "email" in changed and actor is not None:
        role_check(user=actor, permission=Permission.MANAGE)
    old_email = member.email
    # Only these columns: a concurrent order's balance update is never overwritten.
    Member.objects.filter(pk=member.pk).update(
        **{name: values[name] for name in changed}, updated_at=timezone.now()
    )
    for name in changed:
        setattr(member, name, values[name])
    others = {name: change for name, change in changed.items() if name != "email"}
    if actor is not None and others:
        audit_record(
            merchant=member.program.merchant_id,
            actor=actor,
            action=Action.MEMBER_UPDATE,
            target=member,
            changes=others,
        )
    if "email" in changed:
        member_email_changed(member=member, old_email=old_email, actor=actor, actor_name=actor_name)


def member_email_changed(
    *, member: Member, old_email: str, actor: User | None, actor_name: str = ""
) -> None:
    """What follows a change of the member's email address (already written, under the
    member's row lock): whoever held the old address, or a session or link made for it,
    is out. The member's profile sessions end, unused sign-in links stop working, the
    change is audited and the old address is told (a service notice: whatever the member's
    consent, without the new address)."""
    links = profile_sign_ins_end(member=member)
    entry = audit_record(
        merchant=member.program.merchant_id,
        actor=actor,
        actor_name=actor_name,
        action=Action.MEMBER_EMAIL_CHANGE,
        target=member,
        changes={"email": [old_email, member.email], "sign_in_links_ended": links},
    )
    if old_email:
        notice_enqueue(
            member=member, event=Event.EMAIL_CHANGED, occasion=f"audit:{entry.pk}", to=old_email
        )


def _referral_set(*, member: Member, referrer_external_id: str) -> None:
    """Record who referred the member: once, before the member's first order, never the
    member themself (same id or same e-mail address) and never closing a loop."""
    referrer = Member.objects.filter(
        program=member.program, external_id=referrer_external_id
    ).first()
    if referrer is not None and member.referred_by_id == referrer.pk:
        return
    problem = None
    if referrer is None:
        problem = _("No member with this external id in the program.")
    elif member.referred_by_id is not None:
        problem = _("The member was already referred by someone else.")
    elif referrer.pk == member.pk or (member.email and member.email == referrer.email):
        problem = _("A member cannot refer themself.")
    elif Order.objects.filter(member=member).exists():
        problem = _("A referral counts only before the member's first order.")
    else:
        seen: set[int] = set()
        up: int | None = referrer.pk
        while up is not None and up not in seen:
            if up == member.pk:
                problem = _("This referral would make a loop: the member brought in the referrer.")
                break
            seen.add(up)
            up = Member.objects.filter(pk=up).values_list("referred_by_id", flat=True).first()
    if problem is not None:
        raise InvalidInput({"referred_by": [str(problem)]})
    Member.objects.filter(pk=member.pk).update(referred_by=referrer)
    member.referred_by = referrer


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
