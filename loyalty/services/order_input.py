"""An order as an integrator sends it, checked: the refusals come before anything is read.

The same checks serve a single order, a batch's orders and the quote, so all three refuse
the same input alike; the fingerprint tells a replay (the same order sent again) from a
conflict (the same external id with another body).
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NotRequired, TypedDict

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import money
from loyalty.errors import CurrencyMismatch, InvalidInput
from loyalty.ids import external_id_problem, order_id_problem
from loyalty.models import Campaign, EarningRule, Member, Program, Tier
from loyalty.rules import earning
from loyalty.rules import tiers as tier_rules
from loyalty.services.earning import lines_clean

BREAKDOWN_PARTS = ("discount", "shipping", "tax", "paid_with_gift_card")
# An order may be stamped a little ahead of our clock (clock skew), not more.
PLACED_AT_TOLERANCE = timedelta(minutes=5)


def check_amount(name: str, value: Decimal, currency: str, errors: dict[str, list[str]]) -> None:
    if not value.is_finite() or value < 0 or value > money.MAX_AMOUNT:
        errors[name] = [str(_("Must be a number between 0 and 1000000000."))]
    elif not money.fits_currency(value, currency):
        errors[name] = [
            str(_("%(currency)s amounts have at most %(digits)s decimals."))
            % {"currency": currency, "digits": money.minor_unit(currency)}
        ]


def _validate_order(
    *, program: Program, amount: Decimal, currency: str, breakdown: dict[str, Decimal],
    placed_at: datetime,
) -> None:  # fmt: skip
    if currency.upper() != program.currency:
        raise CurrencyMismatch(expected=program.currency, given=currency)
    errors: dict[str, list[str]] = {}
    check_amount("amount", amount, currency, errors)
    if "amount" not in errors and amount == 0:
        errors["amount"] = [str(_("An order amount must be more than zero."))]
    for part, value in breakdown.items():
        check_amount(part, value, currency, errors)
    if not errors:
        excluded = breakdown["shipping"] + breakdown["tax"] + breakdown["paid_with_gift_card"]
        if excluded > amount:
            errors["amount"] = [
                str(_("Shipping, tax and gift-card payment together exceed the amount."))
            ]
    if placed_at > timezone.now() + PLACED_AT_TOLERANCE:
        errors["placed_at"] = [str(_("An order cannot be placed in the future."))]
    if errors:
        raise InvalidInput(errors)


def order_ids_check(*, external_id: str, member_external_id: str) -> None:
    """The order's and the member's external ids, by the id rules (loyalty.ids)."""
    for name, problem in (
        ("external_id", order_id_problem(external_id)),
        ("member", external_id_problem(member_external_id)),
    ):
        if problem:
            raise InvalidInput({name: [problem]})


def _fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OrderInput:
    """An order as checked and fingerprinted by ``order_input``: ready to record."""

    external_id: str
    member_external_id: str
    amount: Decimal
    currency: str
    placed_at: datetime
    parts: dict[str, Decimal]
    lines: list[dict[str, Any]]
    fingerprint: str

    def earning(
        self,
        *,
        program: Program,
        member: Member,
        rules: list[EarningRule],
        campaigns: list[Campaign],
        tiers: list[Tier],
        earned: Callable[[datetime, datetime], int],
    ) -> earning.EarnBreakdown:
        """What this order earns ``member`` under these settings (``earned``: the member's
        earned points between two moments, for the caps): the order path and the quote ask
        the rules the same question through here."""
        return earning.earn_breakdown(
            program=program,
            member=member,
            external_id=self.external_id,
            amount=self.amount,
            currency=self.currency,
            breakdown=self.parts,
            lines=self.lines,
            placed_at=self.placed_at,
            rules=rules,
            campaigns=campaigns,
            tier=tier_rules.multiplier(tiers, member.tier_id),
            earned=earned,
        )


def order_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """An order's fields as the API takes them (``member``, optional parts left out), as the
    keyword arguments of ``order_input``, ``order_record`` and ``order_quote``."""
    return {
        "external_id": body["external_id"],
        "member_external_id": body["member"],
        "amount": body["amount"],
        "currency": body["currency"],
        "placed_at": body.get("placed_at"),
        "breakdown": body.get("breakdown"),
        "lines": body.get("lines"),
    }


class OrderFields(TypedDict):
    """An order's fields as ``order_input`` takes them: the other ways in (``order_record``,
    ``order_quote``) take the same, and pass them on."""

    external_id: str
    member_external_id: str
    amount: Decimal
    currency: str
    placed_at: NotRequired[datetime | None]
    breakdown: NotRequired[dict[str, Decimal] | None]
    lines: NotRequired[list[dict[str, Any]] | None]


def order_input(
    *,
    program: Program,
    external_id: str,
    member_external_id: str,
    amount: Decimal,
    currency: str,
    placed_at: datetime | None = None,
    breakdown: dict[str, Decimal] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> OrderInput:
    """Check an order (``InvalidInput``, ``CurrencyMismatch``) and fingerprint it. Reads nothing."""
    parts = {part: Decimal((breakdown or {}).get(part) or 0) for part in BREAKDOWN_PARTS}
    currency = currency.upper()
    clean_lines = lines_clean(lines=lines, currency=currency)
    fingerprint = _fingerprint(
        {
            # Only when sent, so orders without lines keep the fingerprints they had.
            **({"lines": lines_out(clean_lines)} if clean_lines else {}),
            "member": member_external_id,
            "amount": str(amount.normalize()) if amount.is_finite() else str(amount),
            "currency": currency,
            # The same moment in any time zone is the same order.
            "placed_at": placed_at.astimezone(UTC).isoformat() if placed_at else None,
            **{k: str(v.normalize()) for k, v in parts.items() if v.is_finite()},
        }
    )
    placed_at = placed_at or timezone.now()
    order_ids_check(external_id=external_id, member_external_id=member_external_id)
    _validate_order(
        program=program, amount=amount, currency=currency, breakdown=parts, placed_at=placed_at
    )
    return OrderInput(
        external_id=external_id,
        member_external_id=member_external_id,
        amount=amount,
        currency=currency,
        placed_at=placed_at,
        parts=parts,
        lines=clean_lines,
        fingerprint=fingerprint,
    )


def lines_out(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as stored and fingerprinted: the amount as a plain decimal string."""
    return [{**line, "amount": format(line["amount"].normalize(), "f")} for line in lines]
