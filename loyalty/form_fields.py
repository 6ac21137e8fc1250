"""Form fields the backoffice's forms share: lists of days, amounts as typed, lists of names
(SKUs, categories) typed one per line or with commas. They parse and present; services judge.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class DayListField(forms.CharField):
    """A list of whole days typed as ``60, 30, 14, 7``."""

    default_error_messages = {
        "invalid": _("Give whole numbers of days above zero, separated by commas."),
    }

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(day) for day in value)
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        if isinstance(value, list | tuple):
            return [int(day) for day in value]
        text = super().to_python(value) or ""
        try:
            days = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if any(day <= 0 for day in days):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return days


class AmountField(forms.DecimalField):
    """An amount or a percentage, shown as typed: 10 and 2.5, not 10.000 or 1E+1."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 3)
        kwargs.setdefault("widget", forms.NumberInput(attrs={"step": "any", "size": 8}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{value.normalize():f}"
        return value


class NameListField(forms.CharField):
    """SKUs or categories typed one per line or as ``A-1, A-2``."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 24})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _("One per line or separated by commas; empty for none."))
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(name).strip() for name in value if str(name).strip()]
        names = str(value or "").replace("\r", "\n").replace(",", "\n").split("\n")
        return list(dict.fromkeys(name.strip() for name in names if name.strip()))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial) != self.to_python(data)
