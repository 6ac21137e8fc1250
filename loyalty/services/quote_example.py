"""The backoffice's example of what a customer earns: an order amount (and a tier) put
through the program's real rules, as the quote and the order path ask them
(``OrderInput.earning``), with what the merchant is typing on the program page laid over
the saved settings in memory. Writes nothing and reads no member.

The earn rate and the tiers' multipliers may be the program page's unsaved values; an earning
rule or a campaign may be the one its own page holds, unsaved (``rule``, ``campaign``: the
instance as its form filled it). Such a draft is checked as its save would check it
(``rule_parameters``, ``campaign_check``), then stands in for its saved self (or joins the
saved ones when new); the order is made to meet it: a line of the rule's product or category,
a day the campaign runs, a customer its conditions are about.
"""

from copy import copy
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import Campaign, EarningRule, Member, Program, Tier
from loyalty.rules.earning import ORDER_RULE_KINDS, EarnBreakdown, local_date, program_zone
from loyalty.services.earning import campaign_check, program_campaigns, rule_parameters
from loyalty.services.earning_rules import program_rules
from loyalty.services.merchants import program_settings_check
from loyalty.services.order_input import OrderInput, order_input
from loyalty.services.tiers import program_tiers

EXAMPLE_MEMBER = "example-customer"
EXAMPLE_ORDER = "example-order"
MAX_MULTIPLIER = Decimal(100)


@dataclass
class EarningExample:
    amount: Decimal
    currency: str
    tier: str | None
    earning: EarnBreakdown
    # The day the order is placed when not today (a campaign that runs later).
    placed_on: date | None = None
    # The draft rule gives its points outside orders (sign-up, birthday, referral).
    rule_outside_orders: bool = False


def _decimal(value: Any, name: str, message: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise InvalidInput({name: [str(message)]})
    return number


def _tiers(program: Program, tier: str, multiplier: Any) -> tuple[list[Tier], Tier | None]:
    """The saved tiers; the chosen one found by name, or an unsaved one from the page."""
    tiers = [copy(t) for t in program_tiers(program)]
    if not tier:
        return tiers, None
    chosen = next((t for t in tiers if t.name.lower() == tier.lower()), None)
    if chosen is None:
        chosen = Tier(program=program, name=tier, min_points=2**31 - 1, pk=-1)
        tiers.append(chosen)
    if multiplier not in (None, ""):
        factor = _decimal(multiplier, "tier_multiplier", _("Give a multiplier from 1 to 100."))
        if not Decimal(1) <= factor <= MAX_MULTIPLIER:
            raise InvalidInput({"tier_multiplier": [str(_("Give a multiplier from 1 to 100."))]})
        chosen.earn_multiplier = factor
    return tiers, chosen


def _with_draft(saved: list[Any], draft: Any) -> list[Any]:
    """The saved list with ``draft`` in place of its saved self (or added when new); an
    inactive draft takes its saved self out."""
    kept = [item for item in saved if draft.pk is None or item.pk != draft.pk]
    return [*kept, draft] if draft.active else kept


def _rule_draft(program: Program, rule: EarningRule) -> EarningRule:
    """The unsaved rule, checked as its save checks it."""
    if rule.program_id not in (None, program.pk):
        raise InvalidInput({"program": [str(_("The rule belongs to another program."))]})
    draft = copy(rule)
    draft.parameters = rule_parameters(kind=rule.kind, parameters=rule.parameters)
    return draft


def _campaign_draft(program: Program, campaign: Campaign) -> Campaign:
    """The unsaved campaign, checked as its save checks it."""
    if campaign.program_id not in (None, program.pk):
        raise InvalidInput({"program": [str(_("The campaign belongs to another program."))]})
    campaign_check(
        start_date=campaign.start_date, end_date=campaign.end_date,
        multiplier=campaign.multiplier, fixed_bonus=campaign.fixed_bonus,
        tiers=campaign.tiers or [], segment=campaign.segment or {},
    )  # fmt: skip
    return copy(campaign)


def _rule_lines(rule: EarningRule | None, amount: Decimal) -> list[dict[str, Any]] | None:
    """An order of one item the rule is about (a product or category rule needs lines)."""
    if rule is None or rule.kind not in ("product_bonus", "category_bonus", "exclusion"):
        return None
    sku = rule.parameters.get("sku") or "example-item"
    category = rule.parameters.get("category") or ""
    return [{"sku": sku, "category": category, "quantity": 1, "amount": amount}]


def _campaign_day(program: Program, campaign: Campaign) -> datetime | None:
    """A moment of a day the campaign runs: today if it runs today, else its first day."""
    today = local_date(program, timezone.now())
    if campaign.start_date <= today <= campaign.end_date:
        return None
    return datetime.combine(campaign.start_date, time(12), tzinfo=program_zone(program))


def _segment_member(member: Member, segment: dict[str, Any]) -> None:
    """Make the example customer one the campaign's named conditions are about."""
    ends = segment.get("email__endswith")
    if ends:
        member.email = f"customer{ends}" if str(ends).startswith("@") else f"customer@{ends}"
    if segment.get("locale__in"):
        member.locale = segment["locale__in"][0]
    if "consent_email" in segment:
        member.consent_email = bool(segment["consent_email"])
    since = segment.get("created_at__gte") or segment.get("created_at__lte")
    if since:
        day = date.fromisoformat(str(since))
        member.created_at = datetime.combine(day, time(12), tzinfo=timezone.get_current_timezone())


def _order(program: Program, value: Decimal, lines: Any, placed_at: datetime | None) -> OrderInput:
    checked = order_input(
        program=program,
        external_id=EXAMPLE_ORDER,
        member_external_id=EXAMPLE_MEMBER,
        amount=value,
        currency=program.currency,
        lines=lines,
    )
    # A campaign that starts later: the example's order is placed on its first day (an order
    # of the future is refused on the order path, not in an example).
    return checked if placed_at is None else replace(checked, placed_at=placed_at)


def earning_example(
    *,
    program: Program,
    amount: Any,
    tier: str = "",
    tier_multiplier: Any = None,
    settings: dict[str, Any] | None = None,
    rule: EarningRule | None = None,
    campaign: Campaign | None = None,
) -> EarningExample:
    """What an order of ``amount`` earns a member of ``tier`` (a name; empty: no tier), with
    ``settings`` (program fields as typed, e.g. ``earn_rate``) over the saved ones, and an
    unsaved ``rule`` or ``campaign`` (as its page holds it) over its saved self.

    ``InvalidInput`` (by field) for an amount, a setting or a draft its save would refuse;
    nothing is written."""
    value = _decimal(amount, "amount", _("Give an order amount, e.g. 50.00."))
    shown = copy(program)
    for name, setting in program_settings_check(dict(settings or {})).items():
        setattr(shown, name, setting)
    tiers, chosen = _tiers(program, tier.strip(), tier_multiplier)
    rules, campaigns = program_rules(program), program_campaigns(program)
    member = Member(program=shown, external_id=EXAMPLE_MEMBER, tier=chosen)
    placed_at = None
    if rule is not None:
        rule = _rule_draft(program, rule)
        rules = _with_draft(rules, rule)
    if campaign is not None:
        campaign = _campaign_draft(program, campaign)
        campaigns = _with_draft(campaigns, campaign)
        placed_at = _campaign_day(shown, campaign)
        _segment_member(member, campaign.segment or {})
    checked = _order(shown, value, _rule_lines(rule, value), placed_at)
    earned = checked.earning(
        program=shown,
        member=member,
        rules=rules,
        campaigns=campaigns,
        tiers=tiers,
        earned=lambda start, end: 0,
    )
    return EarningExample(
        amount=value,
        currency=shown.currency,
        tier=chosen.name if chosen else None,
        earning=earned,
        placed_on=placed_at.date() if placed_at else None,
        rule_outside_orders=rule is not None and rule.kind not in ORDER_RULE_KINDS,
    )
