"""Forms of the merchant backoffice (the Django admin).

They parse and present; the rules live in ``loyalty.services``. A service's
refusal (a ``LoyaltyError``) is put back on the form that asked for the change
with ``add_service_error``, so staff see it next to what they typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.translation import gettext_lazy as _

from loyalty.builder.thresholds import (
    THRESHOLDS_PREFIX,
    ThresholdForm,
    ThresholdFormSet,
    scope_error_field,
)
from loyalty.content_fields import TranslationsFormField
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.form_fields import DayListField
from loyalty.models import ApiKey, Merchant, Program, Tier
from loyalty.services.merchants import PROGRAM_FIELDS, program_settings_check
from loyalty.services.points import MAX_REASON
from rewards.services.thresholds import thresholds_describe


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


# Plain words for the database's guarantees, should a value reach them (forms and services
# check first): constraint name -> (the field it is about, what to do).
CONSTRAINT_MESSAGES: dict[str, tuple[str, Any]] = {
    "program_earn_rate_gte_0": ("earn_rate", _("Give points per 1.00 from 0.")),
    "program_transfer_min_gte_1": ("transfer_min_points", _("Give a whole number from 1.")),
    "program_validity_positive": (
        "points_validity_days",
        _("Give 1 day or more, or leave it empty for points that never expire."),
    ),
    "program_support_coupon_limits": (
        "support_coupon_max_percent",
        _("Give limits from 0, a percentage of at most 100 and at least 1 day."),
    ),
    "tier_window_positive": ("window_days", _("Give a window of 1 day or more.")),
    "tier_multiplier_gte_1": (
        "earn_multiplier",
        _("Give a multiplier of 1 or more (1: no extra points)."),
    ),
    "campaign_dates_ordered": ("end_date", _("The campaign must end on or after its first day.")),
    "campaign_multiplier_gte_1": ("multiplier", _("A multiplier is from 1 to 100.")),
    "template_value_positive": ("value", _("Give a value above 0.")),
    "template_percent_lte_100": ("value", _("A percentage is at most 100.")),
    "template_valid_days": ("valid_days", _("Give 1 day or more.")),
    "template_uses_positive": ("uses", _("Give 1 use or more.")),
    "template_min_order_gte_0": ("min_order_amount", _("Give an amount from 0.")),
}


class PlainConstraintForm(forms.ModelForm):
    """A model form on which a refused database constraint reads as plain words next to its
    field (``CONSTRAINT_MESSAGES``), never as "Constraint ... is violated" above the form."""

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        errors: Any = self._errors  # type: ignore[attr-defined]
        if NON_FIELD_ERRORS not in errors:
            return
        names = {
            str(c.get_violation_error_message()): c.name for c in self._meta.model._meta.constraints
        }
        kept = self.error_class(error_class="nonfield")
        plain: list[tuple[str | None, str]] = []
        for error in errors.pop(NON_FIELD_ERRORS).as_data():
            name = names.get(error.messages[0], "")
            field, message = CONSTRAINT_MESSAGES.get(name, (None, None))
            if message is None:
                kept.extend(error.messages)
            else:
                plain.append((field if field in self.fields else None, str(message)))
        if kept:
            errors[NON_FIELD_ERRORS] = kept
        for field, message in plain:
            if field is None or field not in errors:
                self.add_error(field, message)


# A refusal of thresholds_replace names a row: "thresholds.2.points", "thresholds.2.coupon.value".
_THRESHOLD_ERROR = re.compile(
    r"thresholds\.(?P<index>\d+)(?:\.coupon)?(?:\.(?P<field>\w+(?:\.\w+)?))?"
)


class ProgramForm(PlainConstraintForm):
    """A program's settings and its reward thresholds.

    The admin saves the settings through ``program_update`` and the thresholds, in
    the same transaction, through ``thresholds_replace``. A post without a setting
    or without the thresholds' rows (a script, an old page) leaves them as they are.
    """

    reminder_offsets_days = DayListField(
        required=False,
        label=_("Reminder offsets (days)"),
        help_text=_("Days before expiry to remind members, e.g. 60, 30, 14, 7."),
    )
    conversion_mode = forms.ChoiceField(
        choices=Program.ConversionMode.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Conversion into coupons"),
    )
    refund_after_conversion = forms.ChoiceField(
        choices=Program.RefundAfterConversion.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Refund after conversion"),
        help_text=Program._meta.get_field("refund_after_conversion").help_text,
    )

    tier_grace_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        label=_("Tier grace days"),
        help_text=Program._meta.get_field("tier_grace_days").help_text,
    )
    tier_notice_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        label=_("Tier notice days"),
        help_text=Program._meta.get_field("tier_notice_days").help_text,
    )
    pending_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        label=_("Return window (days)"),
        help_text=Program._meta.get_field("pending_days").help_text,
    )

    class Meta:
        model = Program
        fields = PROGRAM_FIELDS  # the settings program_update takes, in one place

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.SUPPORT_LIMITS:
            if name in self.fields:
                self.fields[name].required = False
        submitted = self.is_bound and f"{THRESHOLDS_PREFIX}-TOTAL_FORMS" in self.data
        initial = [
            {"points": row["points"], **row["coupon"]}
            for row in (thresholds_describe(program=self.instance) if self.instance.pk else [])
        ]
        self.thresholds_submitted = submitted
        for name in self.missing_later_settings():
            self.fields[name].required = False
        self.thresholds = ThresholdFormSet(
            self.data if submitted else None, initial=initial, prefix=THRESHOLDS_PREFIX
        )

    # Settings added later: a post without them (an older page, a script) keeps them.
    LATER_SETTINGS = ("time_zone", "transfers_enabled", "transfer_min_points",
                      "transfer_monthly_limit", "support_coupon_max_amount",
                      "support_coupon_max_percent", "support_coupon_max_days",
                      "grant_confirmation_points")  # fmt: skip

    def missing_later_settings(self) -> list[str]:
        return [n for n in self.LATER_SETTINGS if self.is_bound and n not in self.data]

    SUPPORT_LIMITS = ("support_grant_limit", "support_daily_member_limit", "support_job_limit")

    def _support_limit(self, name: str) -> int:
        # A post without it (a script, an old page) keeps the limit as it is.
        limit = self.cleaned_data.get(name)
        return int(getattr(self.instance, name)) if limit is None else int(limit)

    def clean_support_grant_limit(self) -> int:
        return self._support_limit("support_grant_limit")

    def clean_support_daily_member_limit(self) -> int:
        return self._support_limit("support_daily_member_limit")

    def clean_support_job_limit(self) -> int:
        return self._support_limit("support_job_limit")

    def clean_grant_confirmation_points(self) -> int:
        return self._support_limit("grant_confirmation_points")

    def clean_conversion_mode(self) -> str:
        return self.cleaned_data.get("conversion_mode") or self.instance.conversion_mode

    def clean_tier_grace_days(self) -> int:
        value = self.cleaned_data.get("tier_grace_days")
        return self.instance.tier_grace_days if value is None else value

    def clean_tier_notice_days(self) -> int:
        value = self.cleaned_data.get("tier_notice_days")
        return self.instance.tier_notice_days if value is None else value

    def clean_pending_days(self) -> int:
        days = self.cleaned_data.get("pending_days")
        return self.instance.pending_days if days is None else days

    def clean_refund_after_conversion(self) -> str:
        return (
            self.cleaned_data.get("refund_after_conversion")
            or self.instance.refund_after_conversion
        )

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        for name in self.missing_later_settings():
            self.cleaned_data[name] = getattr(self.instance, name)
        # The service's own checks, so a refusal is shown next to its field before saving.
        changes = {n: self.cleaned_data[n] for n in self.changed_data if n in self.cleaned_data}
        try:
            program_settings_check(changes)
        except InvalidInput as exc:
            add_service_error(self, exc)
        if self.thresholds_submitted and not self.thresholds.is_valid():
            raise forms.ValidationError(_("Correct the reward thresholds below."))
        return cleaned

    def thresholds_changed(self) -> bool:
        return self.thresholds_submitted and self.thresholds.has_changed()

    def _threshold_rows(self) -> list[ThresholdForm]:
        """The rows sent to ``thresholds_replace``, in order: kept rows and filled new ones."""
        formset = self.thresholds
        return [
            form
            for index, form in enumerate(formset.forms)
            if not getattr(form, "cleaned_data", {}).get("DELETE")
            and (index < formset.initial_form_count() or form.has_changed())
        ]

    def thresholds_payload(self) -> list[dict[str, Any]]:
        return [form.payload() for form in self._threshold_rows()]

    def add_service_error(
        self, error: LoyaltyError, fields_by_code: Mapping[str, str] | None = None
    ) -> None:
        """Like ``add_service_error``; a threshold's refusal goes on its row and field."""
        if not isinstance(error, InvalidInput) or not self.thresholds_submitted:
            add_service_error(self, error, fields_by_code)
            return
        rows = self._threshold_rows()
        rest: dict[str, list[str]] = {}
        for name, messages in error.fields.items():
            match = _THRESHOLD_ERROR.fullmatch(name)
            if match is None or int(match["index"]) >= len(rows):
                rest[name] = messages
                continue
            row = rows[int(match["index"])]
            field = match["field"]
            if field is not None and field.partition(".")[0] == "scope":
                field = scope_error_field(field, row.cleaned_data)
            row.add_error(field if field in row.fields else None, list(messages))
        if len(rest) < len(error.fields):
            self.add_error(None, _("Correct the reward thresholds below."))
        if rest:
            add_service_error(self, InvalidInput(rest), fields_by_code)


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
    reason_i18n = TranslationsFormField(
        max_length=MAX_REASON,
        lines=False,
        label=_("Reason per language"),
        help_text=_("What the member reads in its language; empty: the reason above."),
    )
    counts_for_tier = forms.BooleanField(
        required=False,
        label=_("Counts toward tiers"),
        help_text=_("Only for a grant: the points count toward tiers like earned ones."),
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def signed_points(self) -> int:
        points: int = self.cleaned_data["points"]
        return -points if self.cleaned_data["action"] == self.DEDUCT else points


# Profile page forms (the profile branch wires the views: a valid form's data goes to
# ``transfer_create`` / ``feedback_submit`` for the signed-in member).


class TransferForm(forms.Form):
    """Give points to another member of the program."""

    to = forms.CharField(
        max_length=191, label=_("To"), help_text=_("The member number of the person you give to.")
    )
    points = forms.IntegerField(min_value=1, max_value=100_000_000, label=_("Points"))
    note = forms.CharField(max_length=200, required=False, label=_("Message"))
    # Filled once per page load, so a double-submitted form transfers once.
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)


class FeedbackForm(forms.Form):
    """Rate the program and say which rewards the member would value."""

    rating = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        label=_("How do you like the program?"),
    )
    wanted_rewards = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Which rewards would you value?"),
    )


# Tiers (their own forms are in loyalty.builder.tiers)


class TierOverrideForm(forms.Form):
    """Put the selected members at a tier until a date, with a reason."""

    tier = forms.ModelChoiceField(
        queryset=Tier.objects.none(),
        required=False,
        label=_("tier"),
        empty_label=_("(no tier)"),
    )
    until = forms.DateField(
        label=_("until"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The last day of the override; the daily job then sets the earned tier."),
    )
    reason = forms.CharField(label=_("reason"), max_length=500, widget=forms.Textarea(
        attrs={"rows": 2, "cols": 60}))  # fmt: skip

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tier_field = self.fields["tier"]
        assert isinstance(tier_field, forms.ModelChoiceField)
        tier_field.queryset = Tier.objects.filter(program=program).order_by("min_points")
