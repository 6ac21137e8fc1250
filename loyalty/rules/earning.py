"""How many points an order earns, and why: plain functions, for the order and its quote.

Invariant: the order path and ``POST /api/v1/orders/quote`` compute points with
``earn_breakdown`` from the same facts (the program's settings, the member's tier and what it
earned already in a cap's period), so the quote is exactly what the order earns.

The stacking rule (``STACKING_RULE``, shown in the admin), in the order it applies:

1. Base: the order's amount by the program's rules (shipping, tax, gift-card payment,
   discount), less the lines an exclusion rule names; base points = base x earn rate.
2. Multipliers: the multipliers of all running campaigns and the member's tier
   multiply each other and then the base points (rounded down once).
3. Product and category bonuses are added on top; they are not multiplied.
4. Fixed bonuses: of the running fixed-bonus campaigns only the largest applies, once.
5. Caps per member per day and per month (the merchant's time zone) cut the total last.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.models import Campaign, EarningRule, Member, Program

STACKING_RULE = _(
    "Campaign multipliers and the tier multiplier multiply each other and the base points; "
    "product and category bonuses are added after, not multiplied; of the fixed-bonus "
    "campaigns only the largest applies, once per order; daily and monthly caps cut the "
    "total last."
)

ORDER_RULE_KINDS = (
    EarningRule.Kind.PRODUCT_BONUS,
    EarningRule.Kind.CATEGORY_BONUS,
    EarningRule.Kind.EXCLUSION,
    EarningRule.Kind.CAP_DAY,
    EarningRule.Kind.CAP_MONTH,
)
# What a member earned by orders placed from a moment to another (caps read it).
Earned = Callable[[datetime, datetime], int]


# --- the program's clock ---------------------------------------------------------------


def program_zone(program: Program) -> ZoneInfo:
    try:
        return ZoneInfo(program.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(program: Program, moment: datetime) -> date:
    return moment.astimezone(program_zone(program)).date()


def day_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    """From the local midnight starting ``day`` to the next one (DST-safe)."""
    zone = program_zone(program)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def month_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    zone = program_zone(program)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, time.min, tzinfo=zone),
        datetime.combine(following, time.min, tzinfo=zone),
    )


# --- segments ----------------------------------------------------------------------------


SEGMENT_FIELDS: dict[str, type] = {
    "external_id": str,
    "email": str,
    "name": str,
    "locale": str,
    "consent_email": bool,
    "consent_push": bool,
    "birth_date": date,
    "created_at": date,
}
SEGMENT_LOOKUPS = ("exact", "in", "startswith", "endswith", "gte", "lte")


def segment_matches(segment: dict[str, Any], member: Member) -> bool:
    for key, value in segment.items():
        name, _sep, lookup = key.partition("__")
        lookup = lookup or "exact"
        actual: Any = getattr(member, name)
        kind = SEGMENT_FIELDS[name]
        if kind is date:
            if actual is None:
                return False
            actual = actual.date() if isinstance(actual, datetime) else actual
            wanted: Any = (
                [date.fromisoformat(v) for v in value]
                if lookup == "in"
                else date.fromisoformat(value)
            )
        elif kind is str:
            actual = (actual or "").lower()
            wanted = [v.lower() for v in value] if lookup == "in" else value.lower()
        else:
            wanted = value
        matched = {
            "exact": lambda a, w: a == w,
            "in": lambda a, w: a in w,
            "startswith": lambda a, w: str(a).startswith(str(w)),
            "endswith": lambda a, w: str(a).endswith(str(w)),
            "gte": lambda a, w: a >= w,
            "lte": lambda a, w: a <= w,
        }[lookup](actual, wanted)
        if not matched:
            return False
    return True


# --- the breakdown -------------------------------------------------------------------------


@dataclass
class LineEarning:
    sku: str
    category: str
    quantity: int
    amount: Decimal
    earns: bool
    excluded_reason: str | None = None
    bonus_points: int = 0
    bonus_reasons: list[str] = field(default_factory=list)


@dataclass
class RuleEarning:
    rule: str
    kind: str
    points: int
    reason: str


@dataclass
class CampaignEarning:
    campaign: str
    multiplier: Decimal | None
    points: int
    reason: str
    # The campaign's name per language (``loyalty.content``): members read it in theirs.
    name_i18n: dict[str, str] = field(default_factory=dict)


@dataclass
class MultiplierStep:
    source: str
    factor: Decimal
    points_after: int


@dataclass
class Excluded:
    amount: Decimal
    reason: str


@dataclass
class CapApplied:
    rule: str
    period: str
    limit: int
    earned_before: int
    cut: int


@dataclass
class EarnBreakdown:
    amount: Decimal
    currency: str
    points_base: Decimal
    earn_rate: Decimal
    base_points: int
    excluded: list[Excluded]
    lines: list[LineEarning]
    multipliers: list[MultiplierStep]
    rules: list[RuleEarning]
    campaigns: list[CampaignEarning]
    cap: CapApplied | None
    total: int
    reason: str
    tier: str | None = None
    tier_multiplier: Decimal = Decimal(1)
    stacking_rule: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe (Decimals as strings), stored on the order and shown by the API."""
        return _jsonable(self)


def _jsonable(value: Any) -> Any:
    # As dataclasses.asdict, without its deep copies (a third of a batch order's earning).
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        return {name: _jsonable(getattr(value, name)) for name in fields}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return value


def _parts_base(
    *, program: Program, amount: Decimal, breakdown: dict[str, Decimal], currency: str
) -> tuple[Decimal, list[Excluded]]:
    """The part of the amount that earns, by the program's flags, and what was left out."""
    base = amount
    excluded: list[Excluded] = []
    if program.earn_on_discount:
        base += breakdown["discount"]
    for part, earns, label in (
        ("shipping", program.earn_on_shipping, "shipping does not earn points"),
        ("tax", program.earn_on_tax, "tax does not earn points"),
        ("paid_with_gift_card", program.earn_on_gift_card, "gift-card payment does not earn"),
    ):
        if not earns and breakdown[part]:
            base -= breakdown[part]
            excluded.append(Excluded(amount=breakdown[part], reason=label))
    return max(base, Decimal(0)), excluded


def _line_matches(rule: EarningRule, line: dict[str, Any]) -> bool:
    params = rule.parameters
    if "sku" in params:
        return bool(line["sku"] == params["sku"])
    return bool((line["category"] or "").lower() == str(params.get("category", "")).lower())


def earn_breakdown(
    *, program: Program, member: Member | None, external_id: str, amount: Decimal,
    currency: str, breakdown: dict[str, Decimal], lines: list[dict[str, Any]],
    placed_at: datetime, rules: list[EarningRule], campaigns: list[Campaign],
    tier: tuple[Decimal, str | None], earned: Earned,
) -> EarnBreakdown:  # fmt: skip
    """What the order earns, step by step (see the module's stacking rule).

    ``rules``: the program's active earning rules; ``campaigns``: its active campaigns (those
    running on the order's day apply); ``tier``: the member's tier multiplier and name;
    ``earned``: what the member's orders placed in a period earned already (the caps). ``member``
    is None for a member the order would create.
    """
    rules = [r for r in rules if r.kind in ORDER_RULE_KINDS]
    day = local_date(program, placed_at)
    campaigns = [c for c in campaigns if c.start_date <= day <= c.end_date]
    multiplier, tier_name = tier
    rate = program.earn_rate

    # 1. Base, less the excluded lines; the lines' product and category bonuses on the side.
    base, excluded = _parts_base(
        program=program, amount=amount, breakdown=breakdown, currency=currency
    )
    base, line_results, rule_lines = _lines(rules, lines, base=base, rate=rate, excluded=excluded)
    base_points = money.floor_points(base * rate)

    # 2. Multipliers (campaigns, then the tier): they multiply each other.
    eligible = [c for c in campaigns if _campaign_applies(c, member, amount, tier_name)]
    factors: list[tuple[str, Decimal, Campaign | None]] = [
        (f"campaign '{c.name}'", c.multiplier, c) for c in eligible if c.multiplier > 1
    ]
    if multiplier != 1:
        factors.append((str(tier_name), multiplier, None))
    points, steps, campaign_lines = _multiply(base * rate, base_points, factors)

    # 3. Product and category bonuses, added; 4. at most one fixed bonus: the largest.
    total = points + sum(r.points for r in rule_lines)
    fixed = _fixed_bonus(eligible)
    if fixed is not None:
        total += fixed.points
        campaign_lines.append(fixed)

    # 5. Caps, last.
    cap = _cap(program=program, earned=earned, rules=rules, placed_at=placed_at, total=total)
    if cap is not None:
        total -= cap.cut

    result = EarnBreakdown(
        amount=amount, currency=currency, points_base=base, earn_rate=rate,
        base_points=base_points, excluded=excluded, lines=line_results, multipliers=steps,
        rules=rule_lines, campaigns=campaign_lines, cap=cap, total=total, reason="",
        tier=tier_name, tier_multiplier=multiplier, stacking_rule=str(STACKING_RULE),
    )  # fmt: skip
    result.reason = _reason(result, external_id=external_id, breakdown=breakdown, program=program)
    return result


def _lines(
    rules: list[EarningRule], lines: list[dict[str, Any]], *, base: Decimal, rate: Decimal,
    excluded: list[Excluded],
) -> tuple[Decimal, list[LineEarning], list[RuleEarning]]:  # fmt: skip
    """Step 1 for the order's lines: an excluded line leaves the base (never below zero); a
    line that earns gets its product and category bonuses. The base left, each line's
    result and each bonus rule's total (``excluded`` is added to)."""
    exclusions = [r for r in rules if r.kind == EarningRule.Kind.EXCLUSION]
    kinds = (EarningRule.Kind.PRODUCT_BONUS, EarningRule.Kind.CATEGORY_BONUS)
    bonuses = [r for r in rules if r.kind in kinds]
    results: list[LineEarning] = []
    by_rule: dict[int, RuleEarning] = {}
    for line in lines:
        result = LineEarning(
            sku=line["sku"], category=line["category"], quantity=line["quantity"],
            amount=line["amount"], earns=True,
        )  # fmt: skip
        exclusion = next((r for r in exclusions if _line_matches(r, line)), None)
        if exclusion is not None:
            base -= min(line["amount"], base)
            result.earns = False
            result.excluded_reason = f"excluded by rule '{exclusion.name}'"
            excluded.append(
                Excluded(amount=line["amount"], reason=f"{line['sku']}: {result.excluded_reason}")
            )
        else:
            for rule in bonuses:
                extra = _line_bonus(rule, line, rate) if _line_matches(rule, line) else 0
                if not extra:
                    continue
                result.bonus_points += extra
                result.bonus_reasons.append(f"+{extra} '{rule.name}'")
                summary = by_rule.setdefault(
                    rule.pk, RuleEarning(rule=rule.name, kind=rule.kind, points=0, reason="")
                )
                summary.points += extra
        results.append(result)
    for summary in by_rule.values():
        summary.reason = f"+{summary.points} '{summary.rule}'"
    return base, results, list(by_rule.values())


def _line_bonus(rule: EarningRule, line: dict[str, Any], rate: Decimal) -> int:
    """A product or category rule's extra points on a line: per unit, and/or the line's
    amount earning at a higher rate."""
    extra = int(rule.parameters.get("points_per_unit", 0)) * line["quantity"]
    if "multiplier" in rule.parameters:
        factor = Decimal(rule.parameters["multiplier"]) - 1
        extra += money.floor_points(line["amount"] * rate * factor)
    return extra


def _fixed_bonus(eligible: list[Campaign]) -> CampaignEarning | None:
    """The largest fixed bonus of the campaigns that apply (the oldest of equal ones)."""
    fixed = max(
        (c for c in eligible if c.fixed_bonus), key=lambda c: (c.fixed_bonus, -c.pk), default=None
    )
    if fixed is None:
        return None
    return CampaignEarning(
        campaign=fixed.name, multiplier=None, points=fixed.fixed_bonus,
        reason=f"+{fixed.fixed_bonus} campaign '{fixed.name}'", name_i18n=dict(fixed.name_i18n),
    )  # fmt: skip


def _multiply(
    exact: Decimal, points: int, factors: list[tuple[str, Decimal, Campaign | None]]
) -> tuple[int, list[MultiplierStep], list[CampaignEarning]]:
    """Step 2: the multipliers compound on the exact points, floored once at each step for
    the record. The points after them, the steps and the campaigns' lines."""
    steps: list[MultiplierStep] = []
    campaign_lines: list[CampaignEarning] = []
    for source, factor, campaign in factors:
        exact *= factor
        before, points = points, money.floor_points(exact)
        steps.append(MultiplierStep(source=source, factor=factor, points_after=points))
        if campaign is not None:
            campaign_lines.append(
                CampaignEarning(campaign=campaign.name, multiplier=factor,
                                points=points - before, reason=f"x{_num(factor)} {source}",
                                name_i18n=dict(campaign.name_i18n))
            )  # fmt: skip
    return points, steps, campaign_lines


def _campaign_applies(
    campaign: Campaign, member: Member | None, amount: Decimal, tier_name: str | None
) -> bool:
    if amount < campaign.min_order_amount:
        return False
    if campaign.tiers and tier_name not in campaign.tiers:
        return False
    if campaign.segment:
        return member is not None and segment_matches(campaign.segment, member)
    return True


def cap_periods(
    *, program: Program, rules: list[EarningRule], placed_at: datetime
) -> list[tuple[str, int, EarningRule, tuple[datetime, datetime]]]:
    """The caps an order placed at ``placed_at`` meets: (period, limit, rule, (start, end))."""
    day = local_date(program, placed_at)
    found = []
    for rule in rules:
        if rule.kind == EarningRule.Kind.CAP_DAY:
            found.append(("day", int(rule.parameters["points"]), rule, day_bounds(program, day)))
        elif rule.kind == EarningRule.Kind.CAP_MONTH:
            found.append(
                ("month", int(rule.parameters["points"]), rule, month_bounds(program, day))
            )
    return found


def _cap(
    *, program: Program, earned: Earned, rules: list[EarningRule], placed_at: datetime,
    total: int,
) -> CapApplied | None:  # fmt: skip
    """The tightest cap this order meets, if it cuts anything."""
    tightest: CapApplied | None = None
    for period, limit, rule, (start, end) in cap_periods(
        program=program, rules=rules, placed_at=placed_at
    ):
        before = earned(start, end)
        cut = total - max(limit - before, 0)
        if cut > 0 and (tightest is None or cut > tightest.cut):
            tightest = CapApplied(
                rule=rule.name, period=period, limit=limit, earned_before=before, cut=cut
            )
    return tightest


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _reason(
    result: EarnBreakdown, *, external_id: str, breakdown: dict[str, Decimal], program: Program
) -> str:
    """The ledger's reason: the old one-line form, then one clause per rule applied."""
    cur = result.currency
    reason = f"Order #{external_id}: {money.format_money(result.points_base, cur)}"
    left_out = [
        f"{money.format_money(breakdown[part], cur)} {label}"
        for part, label, earns in (
            ("shipping", "shipping", program.earn_on_shipping),
            ("tax", "tax", program.earn_on_tax),
            ("paid_with_gift_card", "paid by gift card", program.earn_on_gift_card),
        )
        if not earns and breakdown[part]
    ]
    left_out += [
        f"{money.format_money(line.amount, cur)} {line.sku} {line.excluded_reason}"
        for line in result.lines
        if not line.earns
    ]
    if left_out:
        reason += f" ({money.format_money(result.amount, cur)} less {', '.join(left_out)})"
    if program.earn_on_discount and breakdown["discount"]:
        reason += f" (with {money.format_money(breakdown['discount'], cur)} discount)"
    # "x 10 points x 2 campaign 'Double days' x 1.5 Platinum = 30 points"
    reason += f" x {_num(result.earn_rate)} points"
    for step in result.multipliers:
        reason += f" x {_num(step.factor)} {step.source}"
    points = result.multipliers[-1].points_after if result.multipliers else result.base_points
    reason += f" = {points} points"
    for rule in result.rules:
        reason += f"; {rule.reason}"
    for campaign in result.campaigns:
        if campaign.multiplier is None:
            reason += f"; {campaign.reason}"
    if result.cap is not None:
        cap = result.cap
        reason += (
            f"; capped by rule '{cap.rule}' at {cap.limit} points a {cap.period} "
            f"({cap.earned_before} earned already): -{cap.cut}"
        )
    if result.rules or result.cap or any(c.multiplier is None for c in result.campaigns):
        reason += f"; total {result.total} points"
    return reason
