"""A program's reward thresholds as rows of its page: each kind with its own fields (a value
for percent and fixed; a product for a free product), what the coupon applies to (the scope, as
lists of SKUs and categories) and how often it may be used. The rows parse and present;
``thresholds_replace`` judges them (role checked, audited) and the program form puts its
refusals on their fields (``scope_error_field`` for the scope's lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.form_fields import AmountField, NameListField
from rewards.lines import SCOPE_KEYS, scope_clean
from rewards.models import AllowancePeriod, CouponKind
from rewards.services.thresholds import TERM_FIELDS

SCOPE_LABELS = {
    "include_skus": _("Only these SKUs"),
    "include_categories": _("Only these categories"),
    "exclude_skus": _("Never these SKUs"),
    "exclude_categories": _("Never these categories"),
}
# The service names a scope's list as ``scope.include_skus``; a whole-scope refusal (a free
# product with a scope) goes on the first list that has names.
SCOPE_ERROR_FIELDS = {f"scope.{key}": key for key in SCOPE_KEYS}


def scope_error_field(name: str, data: Mapping[str, Any]) -> str:
    """The form field a scope refusal (``scope``, ``scope.include_skus``) is about."""
    if name in SCOPE_ERROR_FIELDS:
        return SCOPE_ERROR_FIELDS[name]
    return next((key for key in SCOPE_KEYS if data.get(key)), SCOPE_KEYS[0])


class ThresholdForm(forms.Form):
    """One reward threshold: at ``points``, a coupon with these terms, each kind with its
    own fields (a value for percent and fixed; a product for a free product), what it applies
    to (the scope as lists of SKUs and categories) and how often it may be used. The form only
    parses; ``thresholds_replace`` judges the terms, and its refusal is shown on the field.

    A post without the scope or uses fields (a script, an older page) keeps them as saved.
    """

    points = forms.IntegerField(label=_("Points"), widget=forms.NumberInput(attrs={"size": 8}))
    kind = forms.ChoiceField(
        label=_("Reward"), choices=CouponKind.choices, initial=CouponKind.PERCENT
    )
    value = AmountField(
        label=_("Value"), required=False,
        help_text=_("Percent (e.g. 10) or an amount in the program's currency."),
    )  # fmt: skip
    max_discount = AmountField(
        label=_("Max discount"), required=False, help_text=_("Cap on the discount; empty for none.")
    )
    min_order_amount = AmountField(label=_("Min order amount"), required=False)
    valid_days = forms.IntegerField(
        label=_("Valid days"), initial=30, widget=forms.NumberInput(attrs={"size": 5})
    )
    uses = forms.IntegerField(
        label=_("Uses"), initial=1, widget=forms.NumberInput(attrs={"size": 4}),
        help_text=_("How many orders may use a coupon."),
    )  # fmt: skip
    product_sku = forms.CharField(
        label=_("Free product: SKU"), required=False, max_length=100,
        widget=forms.TextInput(attrs={"size": 10}),
    )  # fmt: skip
    product_category = forms.CharField(
        label=_("or category"), required=False, max_length=100,
        widget=forms.TextInput(attrs={"size": 10}),
    )  # fmt: skip
    # Empty: 1 (no initial value, so an untouched new row stays untouched).
    product_quantity = forms.IntegerField(
        label=_("Free product: quantity"), required=False,
        widget=forms.NumberInput(attrs={"size": 4, "placeholder": "1"}),
    )  # fmt: skip
    include_skus = NameListField(label=SCOPE_LABELS["include_skus"])
    include_categories = NameListField(label=SCOPE_LABELS["include_categories"])
    exclude_skus = NameListField(label=SCOPE_LABELS["exclude_skus"])
    exclude_categories = NameListField(label=SCOPE_LABELS["exclude_categories"])
    uses_per_member = forms.IntegerField(
        label=_("Uses per customer"), required=False, widget=forms.NumberInput(attrs={"size": 4}),
        help_text=_("How many orders of one customer may use it."),
    )  # fmt: skip
    allowance_uses = forms.IntegerField(
        label=_("Uses per period"), required=False, widget=forms.NumberInput(attrs={"size": 4}),
        help_text=_("Uses per period (a perk such as 2 a quarter)."),
    )  # fmt: skip
    allowance_period = forms.ChoiceField(
        label=_("Period"), required=False,
        choices=[("", _("no period")), *AllowancePeriod.choices],
    )  # fmt: skip

    # Kept as saved when a post leaves them out; the scope's lists are one of them.
    KEPT_WHEN_ABSENT = ("product_quantity", "uses_per_member", "allowance_uses",
                        "allowance_period", *SCOPE_KEYS)  # fmt: skip
    # The fields folded under "what it applies to, and how often".
    MORE_FIELDS = (*SCOPE_KEYS, "uses_per_member", "allowance_uses", "allowance_period")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope = self.initial.get("scope") or {}
        for key in SCOPE_KEYS:
            self.initial.setdefault(key, list(scope.get(key) or []))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        for name in self.KEPT_WHEN_ABSENT:
            if self.add_prefix(name) not in self.data and name not in self.errors:
                cleaned[name] = self.initial.get(name, self.fields[name].initial)
        return cleaned

    def scope(self) -> dict[str, list[str]]:
        return scope_clean({key: self.cleaned_data.get(key) for key in SCOPE_KEYS})

    def more_open(self) -> bool:
        """Whether "what it applies to, and how often" shows unfolded: it says something."""
        return any(self[name].errors or self[name].value() for name in self.MORE_FIELDS)

    def payload(self) -> dict[str, Any]:
        """The row in the shape ``thresholds_replace`` takes (a value left empty is left out:
        a free product or free shipping has none)."""
        data = self.cleaned_data
        coupon = {name: data.get(name) for name in TERM_FIELDS if name != "scope"}
        coupon["scope"] = self.scope()
        if coupon["value"] is None:
            del coupon["value"]
        coupon["product_quantity"] = coupon["product_quantity"] or 1
        coupon["allowance_period"] = coupon["allowance_period"] or ""
        return {"points": data["points"], "coupon": coupon}


ThresholdFormSet = forms.formset_factory(
    ThresholdForm, extra=2, can_delete=True, max_num=50, absolute_max=50, validate_max=True
)

THRESHOLDS_PREFIX = "thresholds"
