"""Earning rules as forms: one form per kind, with that kind's own fields (a sign-up bonus
asks for its points, a product bonus for the SKU and the extra per unit or multiplier),
in place of a JSON box of parameters.

The fields make the rule's ``parameters``; ``rule_parameters`` (the service's check, the
API's too) judges them, and its refusal is shown on the field it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.forms import PlainConstraintForm
from loyalty.models import EarningRule
from loyalty.services.earning import rule_parameters

Kind = EarningRule.Kind
MAX_POINTS = 1_000_000


def _points(label: Any, help_text: Any = "") -> Callable[[], forms.Field]:
    return lambda: forms.IntegerField(
        label=label, min_value=1, max_value=MAX_POINTS, help_text=help_text
    )


def _text(label: Any, required: bool = True, help_text: Any = "") -> Callable[[], forms.Field]:
    return lambda: forms.CharField(
        label=label, max_length=100, required=required, help_text=help_text
    )


def _optional_points(label: Any, help_text: Any) -> Callable[[], forms.Field]:
    return lambda: forms.IntegerField(
        label=label, min_value=1, max_value=MAX_POINTS, required=False, help_text=help_text
    )


def _multiplier() -> forms.Field:
    return forms.DecimalField(
        label=_("Multiplier"), required=False, min_value=Decimal("1.01"), max_value=100,
        decimal_places=3, widget=forms.NumberInput(attrs={"step": "any"}),
        help_text=_("Extra points on the line's amount: 2 earns the line's points twice."),
    )  # fmt: skip


# Each kind's fields, in order: (parameter name, the field that asks for it).
KIND_FIELDS: dict[str, tuple[tuple[str, Callable[[], forms.Field]], ...]] = {
    Kind.SIGNUP: (("points", _points(_("Bonus points"), _("Given once, to a new member."))),),
    Kind.BIRTHDAY: (("points", _points(_("Bonus points"), _("Given on the birthday."))),),
    Kind.REFERRAL: (
        ("referrer_points", _points(_("Points for the member who referred"))),
        ("referred_points", _points(_("Points for the new member"))),
    ),
    Kind.PRODUCT_BONUS: (
        ("sku", _text(_("Product SKU"))),
        ("points_per_unit", _optional_points(_("Extra points per unit"), "")),
        ("multiplier", _multiplier),
    ),
    Kind.CATEGORY_BONUS: (
        ("category", _text(_("Category"))),
        ("points_per_unit", _optional_points(_("Extra points per unit"), "")),
        ("multiplier", _multiplier),
    ),
    Kind.EXCLUSION: (
        ("sku", _text(_("Product SKU"), False, _("Its lines earn no points."))),
        ("category", _text(_("Or a category"), False, _("Its lines earn no points."))),
    ),
    Kind.CAP_DAY: (("points", _points(_("Most points a member earns in a day"))),),
    Kind.CAP_MONTH: (("points", _points(_("Most points a member earns in a calendar month"))),),
}

KIND_DESCRIPTIONS: dict[str, Any] = {
    Kind.SIGNUP: _("Points once, for a new member."),
    Kind.BIRTHDAY: _("Points on the member's birthday."),
    Kind.REFERRAL: _("Points for both, when a referred member places a first order."),
    Kind.PRODUCT_BONUS: _("More points for one product."),
    Kind.CATEGORY_BONUS: _("More points for a category of products."),
    Kind.EXCLUSION: _("A product or category that earns no points."),
    Kind.CAP_DAY: _("The most points a member earns in a day."),
    Kind.CAP_MONTH: _("The most points a member earns in a calendar month."),
}


class EarningRuleForm(PlainConstraintForm):
    """A rule of one kind (``kind``, set by ``rule_form``); its fields make ``parameters``."""

    kind: str = ""

    class Meta:
        model = EarningRule
        fields = ("program", "name", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in (self.instance.parameters or {}).items():
            if name in self.fields and not self.is_bound:
                self.initial[name] = Decimal(value) if name == "multiplier" else value

    def parameters(self) -> dict[str, Any]:
        names = [name for name, _field in KIND_FIELDS[self.kind]]
        values = {name: self.cleaned_data.get(name) for name in names}
        return {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in values.items()
            if value not in (None, "")
        }

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        parameters = self.parameters()
        first = KIND_FIELDS[self.kind][0][0]
        if self.kind == Kind.EXCLUSION and len(parameters) != 1:
            self.add_error(first, _("Give a product SKU or a category (one of them)."))
            return cleaned
        if self.kind in (Kind.PRODUCT_BONUS, Kind.CATEGORY_BONUS) and len(parameters) == 1:
            self.add_error(
                "points_per_unit", _("Give extra points per unit, a multiplier, or both.")
            )
            return cleaned
        try:
            self.instance.parameters = rule_parameters(kind=self.kind, parameters=parameters)
        except InvalidInput as exc:
            for name, messages in exc.fields.items():
                self.add_error(name if name in self.fields else first, list(messages))
        self.instance.kind = self.kind
        return cleaned


def rule_form(kind: str) -> type[EarningRuleForm]:
    """The form of one kind of rule: its own fields, after the name."""
    fields = {name: make() for name, make in KIND_FIELDS[kind]}
    return type(
        f"{kind.title().replace('_', '')}RuleForm", (EarningRuleForm,), {"kind": kind, **fields}
    )


def rule_summary(rule: EarningRule) -> str:
    """What a rule does, in words, for the list of rules."""
    p = rule.parameters or {}
    kind = rule.kind
    if kind in (Kind.SIGNUP, Kind.BIRTHDAY):
        return str(_("%(points)s points")) % {"points": p.get("points")}
    if kind in (Kind.CAP_DAY, Kind.CAP_MONTH):
        return str(_("at most %(points)s points")) % {"points": p.get("points")}
    if kind == Kind.REFERRAL:
        return str(_("%(referrer)s to the referrer, %(referred)s to the new member")) % {
            "referrer": p.get("referrer_points"),
            "referred": p.get("referred_points"),
        }
    target = p.get("sku") or p.get("category") or ""
    if kind == Kind.EXCLUSION:
        return str(_("%(target)s earns nothing")) % {"target": target}
    extras = []
    if p.get("points_per_unit"):
        extras.append(str(_("+%(points)s per unit")) % {"points": p["points_per_unit"]})
    if p.get("multiplier"):
        extras.append(f"× {p['multiplier']}")
    return f"{target}: {', '.join(extras)}"
