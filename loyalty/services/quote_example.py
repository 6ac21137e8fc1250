"""The backoffice's example of what a customer earns: an order amount (and a tier) put
through the program's real rules, as the quote and the order path ask them
(``OrderInput.earning``), with what the merchant is typing on the program page laid over
the saved settings in memory. Writes nothing and reads no member.

The earn rate and the tiers' multipliers may be the page's unsaved values; earning rules
and campaigns are the saved ones (they have pages of their own).
"""

from copy import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.models import Member, Program, Tier
from loyalty.rules.earning import EarnBreakdown
from loyalty.services.earning import program_campaigns
from loyalty.services.earning_rules import program_rules
from loyalty.services.merchants import program_settings_check
from loyalty.services.order_input import order_input
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


def earning_example(
    *,
    program: Program,
    amount: Any,
    tier: str = "",
    tier_multiplier: Any = None,
    settings: dict[str, Any] | None = None,
) -> EarningExample:
    """What an order of ``amount`` earns a member of ``tier`` (a name; empty: no tier), with
    ``settings`` (program fields as typed, e.g. ``earn_rate``) over the saved ones."""
    value = _decimal(amount, "amount", _("Give an order amount, e.g. 50.00."))
    shown = copy(program)
    for name, setting in program_settings_check(dict(settings or {})).items():
        setattr(shown, name, setting)
    tiers, chosen = _tiers(program, tier.strip(), tier_multiplier)
    checked = order_input(
        program=shown,
        external_id=EXAMPLE_ORDER,
        member_external_id=EXAMPLE_MEMBER,
        amount=value,
        currency=shown.currency,
    )
    member = Member(program=shown, external_id=EXAMPLE_MEMBER, tier=chosen)
    earned = checked.earning(
        program=shown,
        member=member,
        rules=program_rules(program),
        campaigns=program_campaigns(program),
        tiers=tiers,
        earned=lambda start, end: 0,
    )
    return EarningExample(
        amount=value, currency=shown.currency, tier=chosen.name if chosen else None, earning=earned
    )
