"""A campaign as a form: its dates, a multiplier or a fixed bonus, the minimum order, the
tiers it is for as checkboxes, and the members it is for as a few named conditions (the
email ends with, member since, language, agreed to emails) in place of a JSON lookup.

The conditions make the campaign's ``segment``; conditions the form does not know (set
through the API) are kept as they are and named under the form. ``campaign_check`` (the
service's check, the API's too) judges the whole, and its refusal is shown on its field.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loyalty.errors import InvalidInput
from loyalty.form_fields import AmountField
from loyalty.forms import PlainConstraintForm
from loyalty.models import Campaign, Program
from loyalty.services.earning import STACKING_RULE, campaign_check
from loyalty.services.tiers import program_tiers

# The named conditions: form field -> the segment's lookup.
SEGMENT_KEYS = {
    "segment_email_endswith": "email__endswith",
    "segment_since_from": "created_at__gte",
    "segment_since_until": "created_at__lte",
    "segment_locales": "locale__in",
    "segment_consent_email": "consent_email",
}
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CampaignForm(PlainConstraintForm):
    """A campaign; ``program`` (set by the admin) offers its tiers as checkboxes."""

    program_of_page: Program | None = None

    tiers = forms.MultipleChoiceField(
        label=_("Only for these tiers"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every member."),
    )  # fmt: skip
    segment_email_endswith = forms.CharField(
        label=_("Only members whose email ends with"), required=False, max_length=200,
        help_text=_("For example @acme.com. Empty: any email."),
    )  # fmt: skip
    segment_since_from = forms.DateField(
        label=_("Members since, from"), required=False, widget=DATE_INPUT
    )
    segment_since_until = forms.DateField(
        label=_("Members since, until"), required=False, widget=DATE_INPUT
    )
    segment_locales = forms.MultipleChoiceField(
        label=_("Only members who speak"), required=False, choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: any language."),
    )  # fmt: skip
    segment_consent_email = forms.TypedChoiceField(
        label=_("Agreed to emails"), required=False, empty_value=None,
        coerce=lambda value: value == "yes",
        choices=(("", _("does not matter")), ("yes", _("yes")), ("no", _("no"))),
    )  # fmt: skip
    min_order_amount = AmountField(label=_("Minimum order amount"), required=False)

    class Meta:
        model = Campaign
        fields = ("program", "name", "active", "start_date", "end_date", "multiplier",
                  "fixed_bonus", "min_order_amount", "tiers", "name_i18n")  # fmt: skip
        widgets = {"start_date": DATE_INPUT, "end_date": DATE_INPUT}
        help_texts = {"multiplier": STACKING_RULE}
        # The base name is the English one; the other languages are asked for below it.
        labels = {"name": _("Name (English)"), "name_i18n": _("Name in other languages")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program = self.program_of_page or (
            self.instance.program if self.instance.program_id else None
        )
        names = [t.name for t in program_tiers(program)] if program is not None else []
        saved = list(self.instance.tiers or [])
        tiers = self.fields["tiers"]
        assert isinstance(tiers, forms.MultipleChoiceField)
        tiers.choices = [(n, n) for n in dict.fromkeys([*names, *saved])]
        if not names and not saved:
            tiers.help_text = _("The program has no tiers: the campaign is for every member.")
        segment = dict(self.instance.segment or {})
        for field, key in SEGMENT_KEYS.items():
            if key in segment and not self.is_bound:
                value = segment[key]
                if key == "consent_email":
                    value = "yes" if value else "no"
                self.initial[field] = value
        self.other_conditions = {k: v for k, v in segment.items() if k not in SEGMENT_KEYS.values()}
        if self.other_conditions:
            kept = ", ".join(f"{k} = {v}" for k, v in self.other_conditions.items())
            self.fields["segment_email_endswith"].help_text = _(
                "Also kept, as set through the API: %(conditions)s."
            ) % {"conditions": kept}

    def segment(self) -> dict[str, Any]:
        data = self.cleaned_data
        segment = dict(self.other_conditions)
        for field, key in SEGMENT_KEYS.items():
            value = data.get(field)
            if value in (None, "", []):
                continue
            segment[key] = value.isoformat() if isinstance(value, date) else value
        return segment

    def clean_min_order_amount(self) -> Any:
        amount = self.cleaned_data.get("min_order_amount")
        return 0 if amount is None else amount

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or self.cleaned_data
        since_from, until = cleaned.get("segment_since_from"), cleaned.get("segment_since_until")
        if since_from and until and until < since_from:
            self.add_error("segment_since_until", _("Give a day on or after the first one."))
        if self.errors:
            return cleaned
        self.instance.segment = self.segment()
        try:
            campaign_check(
                start_date=cleaned["start_date"], end_date=cleaned["end_date"],
                multiplier=cleaned["multiplier"], fixed_bonus=cleaned["fixed_bonus"],
                tiers=cleaned.get("tiers") or [], segment=self.instance.segment,
            )  # fmt: skip
        except InvalidInput as exc:
            for name, messages in exc.fields.items():
                self.add_error(name if name in self.fields else None, list(messages))
        return cleaned
