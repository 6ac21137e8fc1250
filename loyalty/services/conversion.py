"""Points into coupons at reward thresholds, written.

Automatic programs convert the moment a write brings the balance to a threshold, in that
write's transaction, as many times as the balance allows, largest threshold first
(``loyalty.rules.conversion``). Customer's-choice programs convert when the member (or the
integrator for them) claims a reward. Each conversion is a coupon (``rewards``), a ledger
entry of kind ``reward`` that spends the points, a webhook and the member's notification.
"""

from django.db import transaction
from django.utils import timezone, translation

from loyalty import money
from loyalty.content import localized
from loyalty.errors import InsufficientPoints, MemberNotFound
from loyalty.models import LedgerEntry, Member, Order, Program
from loyalty.rules.conversion import conversions
from loyalty.services.ledger import ledger_append
from loyalty.storage.members import member_locked
from notifications.models import Event, WebhookEvent
from notifications.services import notification_enqueue
from notifications.services.templates import language_for
from notifications.services.webhooks import webhook_enqueue
from rewards.errors import RewardNotFound, RewardsAutomatic
from rewards.models import Coupon, CouponKind, RewardThreshold
from rewards.selectors import thresholds_of
from rewards.services.coupons import coupon_issue
from rewards.terms import terms_text


def rewards_convert(
    *, member: Member, program: Program, order: Order | None = None
) -> list[Coupon]:
    """Automatic conversion after a write. The member must be locked."""
    if program.conversion_mode != Program.ConversionMode.AUTOMATIC:
        return []
    made = conversions(balance=member.balance, thresholds=thresholds_of(program))
    return [_convert(member=member, program=program, threshold=t, order=order) for t in made]


def _convert(
    *, member: Member, program: Program, threshold: RewardThreshold, order: Order | None
) -> Coupon:
    coupon = coupon_issue(
        program=program,
        terms=threshold.template,
        member=member,
        source=Coupon.Source.REWARD,
        order=order,
        points_spent=threshold.points,
        reason=f"{threshold.points} points",
    )
    until = timezone.localdate(coupon.valid_until).isoformat()
    ledger_append(
        member=member,
        kind=LedgerEntry.Kind.REWARD,
        points=-threshold.points,
        reason=(
            f"{threshold.points} points converted into coupon {coupon.display_code}: "
            f"{terms_text(coupon, currency=coupon.currency)}, valid until {until}"
        ),
        key=f"reward:{coupon.pk}",
        order=order,
        coupon=coupon,
    )
    webhook_enqueue(
        merchant_id=program.merchant_id,
        event=WebhookEvent.REWARD_ISSUED,
        occasion=str(coupon.pk),
        payload={
            "member": member.external_id,
            "coupon": coupon.display_code,
            "kind": coupon.kind,
            "value": money.value_str(
                coupon.value, coupon.currency, percent=coupon.kind == CouponKind.PERCENT
            ),
            "currency": coupon.currency,
            "valid_until": coupon.valid_until.isoformat(),
            "points_spent": threshold.points,
            "balance": member.balance,
        },
    )
    language = language_for(member.locale)
    with translation.override(language):
        terms = terms_text(coupon, currency=coupon.currency)
    notification_enqueue(
        member=member,
        event=Event.REWARD_ISSUED,
        occasion=f"coupon:{coupon.pk}",
        context={
            "points": threshold.points,
            "coupon_code": coupon.display_code,
            "coupon_terms": terms,
            "coupon_valid_until": timezone.localdate(coupon.valid_until),
            "reward_name": localized(
                threshold.template.name, threshold.template.name_i18n, language
            ),
        },
    )
    return coupon


@transaction.atomic
def reward_claim(*, program: Program, member_external_id: str, points: int) -> Coupon:
    """A customer's-choice member converts points into the reward at ``points``."""
    if program.conversion_mode != Program.ConversionMode.CHOICE:
        raise RewardsAutomatic()
    threshold = (
        RewardThreshold.objects.filter(program=program, points=points)
        .select_related("template")
        .first()
    )
    if threshold is None:
        raise RewardNotFound(points=points)
    member = member_locked(program=program, external_id=member_external_id)
    if member is None:
        raise MemberNotFound(external_id=member_external_id)
    if member.balance < threshold.points:
        raise InsufficientPoints(balance=member.balance, points=threshold.points)
    return _convert(member=member, program=program, threshold=threshold, order=None)
