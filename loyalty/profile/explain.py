"""How the program works, as the profile page tells a customer: the earn rate, what counts,
how long points last, the rewards, the tier ladder and the referral bonus.

Read from the program's settings only (kept per process under its settings version), so
the section costs no query per view and nothing about the member's history."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty import money
from loyalty.content import localized
from loyalty.models import EarningRule, Program, Tier
from loyalty.services.bonuses import bonus_rule
from loyalty.services.tiers import program_tiers
from rewards.models import RewardThreshold
from rewards.terms import terms_text


@dataclass
class TierStep:
    name: str
    min_points: int
    window_days: int
    multiplier: str | None  # "1.5" when the tier multiplies points, else None
    benefits: list[str]
    current: bool


@dataclass
class HowItWorks:
    earn: str
    counts: list[str]
    validity: str
    rewards: list[str]
    rewards_note: str
    tiers: list[TierStep]
    referral: str | None


def _number(value: Decimal) -> str:
    return formats.number_format(value.normalize(), use_l10n=True, force_grouping=True)


def _earn(program: Program) -> str:
    one = money.format_money_localized(Decimal(1), program.currency)
    rate = program.earn_rate
    # The plural follows the rate as read ("1 point", "1.5 points", "10 points").
    count = int(rate) if rate == rate.to_integral_value() else 2
    text = ngettext(
        "You earn %(rate)s point for every %(amount)s you spend, rounded down per order.",
        "You earn %(rate)s points for every %(amount)s you spend, rounded down per order.",
        count,
    )
    return text % {"rate": _number(rate), "amount": one}


def _counts(program: Program) -> list[str]:
    """What part of an order earns, in the program's own settings."""
    flags = [
        (
            program.earn_on_shipping,
            _("Shipping earns points."),
            _("Shipping does not earn points."),
        ),
        (program.earn_on_tax, _("Tax earns points."), _("Tax does not earn points.")),
        (
            program.earn_on_gift_card,
            _("The part paid with a gift card earns points."),
            _("The part paid with a gift card does not earn points."),
        ),
        (
            program.earn_on_discount,
            _("Discounts do not lower your points: you earn on the price before them."),
            _("You earn on what you pay after discounts."),
        ),
    ]
    found = [yes if on else no for on, yes, no in flags]
    if program.pending_days:
        found.append(
            ngettext(
                "Points count %(days)s day after the order (the return window).",
                "Points count %(days)s days after the order (the return window).",
                program.pending_days,
            )
            % {"days": program.pending_days}
        )
    found.append(_("A refund takes back the points of the refunded part of an order."))
    return found


def _validity(program: Program) -> str:
    days = program.points_validity_days
    if not days:
        return _("Your points never expire.")
    if program.reset_validity_on_order:
        return ngettext(
            "Points are valid %(days)s day after your last order: each order resets it "
            "for all your points.",
            "Points are valid %(days)s days after your last order: each order resets it "
            "for all your points.",
            days,
        ) % {"days": days}
    return ngettext(
        "Points are valid %(days)s day from the order that earned them; the oldest are used first.",
        "Points are valid %(days)s days from the order that earned them; the oldest are used "
        "first.",
        days,
    ) % {"days": days}


def _rewards(program: Program, thresholds: list[RewardThreshold]) -> tuple[list[str], str]:
    lines = [
        ngettext("%(points)s point: %(terms)s", "%(points)s points: %(terms)s", t.points)
        % {
            "points": formats.number_format(t.points, use_l10n=True, force_grouping=True),
            "terms": terms_text(t.template, currency=program.currency, localized=True),
        }
        for t in sorted(thresholds, key=lambda t: t.points)
    ]
    if program.conversion_mode == Program.ConversionMode.CHOICE:
        note = _("When you have enough points, you choose a reward and claim it on this page.")
    else:
        note = _(
            "When your balance reaches a reward, your points turn into a coupon by themselves; "
            "it shows under Your coupons and we tell you by email."
        )
    return lines, note


def _tiers(tiers: list[Tier], current_id: int | None) -> list[TierStep]:
    return [
        TierStep(
            name=localized(tier.name, tier.name_i18n),
            min_points=tier.min_points,
            window_days=tier.window_days,
            multiplier=_number(tier.earn_multiplier) if tier.earn_multiplier > 1 else None,
            benefits=[str(b) for b in localized(list(tier.benefits), tier.benefits_i18n)],
            current=tier.pk == current_id,
        )
        for tier in tiers
    ]


@dataclass
class ReferralOffer:
    referrer_points: int
    referred_points: int


def referral_offer(program: Program) -> ReferralOffer | None:
    """What a referral pays each side, while the program has an active referral rule."""
    rule = bonus_rule(program=program, kind=EarningRule.Kind.REFERRAL)
    if rule is None:
        return None
    return ReferralOffer(
        referrer_points=int(rule.parameters.get("referrer_points", 0)),
        referred_points=int(rule.parameters.get("referred_points", 0)),
    )


def _referral(program: Program) -> str | None:
    offer = referral_offer(program)
    if offer is None:
        return None
    return _(
        "Invite a friend: when they place their first order, you get %(referrer)s points "
        "and they get %(referred)s points."
    ) % {
        "referrer": formats.number_format(
            offer.referrer_points, use_l10n=True, force_grouping=True
        ),
        "referred": formats.number_format(
            offer.referred_points, use_l10n=True, force_grouping=True
        ),
    }


def how_it_works(
    *, program: Program, thresholds: list[RewardThreshold], tier_id: int | None
) -> HowItWorks:
    rewards, note = _rewards(program, thresholds)
    return HowItWorks(
        earn=_earn(program),
        counts=_counts(program),
        validity=_validity(program),
        rewards=rewards,
        rewards_note=note,
        tiers=_tiers(program_tiers(program), tier_id),
        referral=_referral(program),
    )
