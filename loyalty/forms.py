"""Forms of the merchant backoffice (the Django admin).

They parse and present; the rules live in ``loyalty.services``. A service's
refusal (a ``LoyaltyError``) is put back on the form that asked for the change
with ``add_service_error``, so staff see it next to what they typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.models import ApiKey, Merchant, Program


def add_service_error(
    form: forms.BaseForm, error: LoyaltyError, fields_by_code: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal on ``form``: on the field it names, else above the form.

    ``InvalidInput`` names its fields; other errors can be pinned to a field by
    their code (``{"currency_locked": "currency"}``).
    """
    if isinstance(error, InvalidInput):
        for name, messages in error.fields.items():
            if name in form.fields:
                form.add_error(name, list(messages))
            else:
                form.add_error(None, [f"{name}: {message}" for message in messages])
        return
    field = (fields_by_code or {}).get(error.code)
    form.add_error(field if field in form.fields else None, error.detail)


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


class ProgramForm(forms.ModelForm):
    """A program's settings; the admin saves them through ``program_update``."""

    reminder_offsets_days = DayListField(
        required=False,
        label=_("Reminder offsets (days)"),
        help_text=_("Days before expiry to remind members, e.g. 60, 30, 14, 7."),
    )

    class Meta:
        model = Program
        fields = (
            "name",
            "currency",
            "earn_rate",
            "points_validity_days",
            "reset_validity_on_order",
            "reminder_offsets_days",
            "earn_on_discount",
            "earn_on_shipping",
            "earn_on_tax",
            "earn_on_gift_card",
        )


class MerchantCreateForm(forms.ModelForm):
    """A new tenant; ``merchant_create`` gives it a default program in ``currency``."""

    currency = forms.CharField(
        max_length=3, min_length=3, initial="EUR", help_text=_("The program's currency.")
    )

    class Meta:
        model = Merchant
        fields = ("slug", "name")


class ApiKeyCreateForm(forms.ModelForm):
    """Name and scopes of a new key; ``api_key_create`` makes the secret."""

    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the key may do. Scopes cannot be changed later; make a new key."),
    )

    class Meta:
        model = ApiKey
        fields = ("merchant", "name", "scopes")


class PointsChangeForm(forms.Form):
    """Grant or deduct points by hand, from the member's page in the admin.

    The hidden ``idempotency_key`` is made when the page is shown, so sending
    the form twice (a double click, a reload) changes the points once.
    """

    required_css_class = "required"
    GRANT = "grant"
    DEDUCT = "deduct"

    action = forms.ChoiceField(
        choices=[(GRANT, _("Grant")), (DEDUCT, _("Deduct"))],
        initial=GRANT,
        widget=forms.RadioSelect,
    )
    points = forms.IntegerField(min_value=1, widget=forms.NumberInput(attrs={"size": 8}))
    # Whether a reason is given is the service's rule (and message); the form only carries it.
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "required": True}),
        help_text=_("Required. The member sees it in their points history."),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def signed_points(self) -> int:
        points: int = self.cleaned_data["points"]
        return -points if self.cleaned_data["action"] == self.DEDUCT else points
