"""A tier as a card on its program's page: name, points, window, minimum rating,
multiplier, a colour picker, its flags as checkboxes, its benefits, one per line, and its
perk coupon: one of the program's coupon templates (``rewards.services.perks``).

The program admin saves all cards at once through ``tiers_replace``; the formset asks
``tiers_check`` first, so two tiers with one name or at the same points are shown on the
card that repeats them, before anything is saved.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import OptionalInlineFormSet
from loyalty.errors import InvalidInput
from loyalty.models import Tier
from loyalty.rules import tiers as tier_rules
from loyalty.services.tier_settings import tiers_check
from rewards.models import CouponTemplate

FLAG_CHOICES = (
    (tier_rules.EARLY_ACCESS, _("Early access to sales")),
    (tier_rules.FREE_SHIPPING, _("Free shipping")),
    (tier_rules.BADGE_CARD, _("Public badge card on the profile page")),
)
FLAG_NAME = re.compile(r"[a-z0-9_-]{1,50}")
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_COLOUR = "#7f8c8d"


class LinesField(forms.CharField):
    """A list of texts typed one per line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 30})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class NamesField(forms.CharField):
    """A list of flag names typed as ``vip, gift_wrap``."""

    default_error_messages = {
        "invalid": _("Use lowercase letters, digits, '_' and '-', separated by commas."),
    }

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not all(FLAG_NAME.fullmatch(name) for name in names):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return list(dict.fromkeys(names))


class ColourField(forms.CharField):
    """The badge's colour from a colour picker (``#rrggbb``); a short form such as ``#abc``
    is shown in full, anything else as the default colour."""

    widget = forms.TextInput(attrs={"type": "color"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{3}", value):
            return "#" + "".join(c * 2 for c in value[1:]).lower()
        return value if isinstance(value, str) and HEX_COLOUR.fullmatch(value) else DEFAULT_COLOUR

    def clean(self, value: Any) -> str:
        text = str(super().clean(value) or "").strip()
        if text and not HEX_COLOUR.fullmatch(text):
            raise forms.ValidationError(_("Pick a colour."), code="invalid")
        return text.lower()


class TierForm(forms.ModelForm):
    """One tier's card. Flags: the known ones as checkboxes, any other (for integrators) in
    a line of their own; together they are the tier's ``flags``."""

    badge = ColourField(label=_("Colour"), required=False)
    flags = forms.MultipleChoiceField(
        label=_("Perks"), choices=FLAG_CHOICES, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    other_flags = NamesField(
        label=_("Other flags"), required=False,
        help_text=_("For integrators, comma-separated, e.g. vip, gift_wrap."),
    )  # fmt: skip
    benefits = LinesField(
        label=_("Benefits (English)"), required=False,
        help_text=_("Shown to the member, one per line."),
    )  # fmt: skip

    class Meta:
        model = Tier
        fields = (
            "name", "min_points", "window_days", "min_rating", "earn_multiplier", "badge",
            "flags", "benefits", "name_i18n", "benefits_i18n", "perk",
        )  # fmt: skip
        # The base name and benefits are the English ones (``translated_languages``): the
        # other languages are asked for below them, English no second time.
        labels = {
            "name": _("Name (English)"),
            "name_i18n": _("Name in other languages"),
            "benefits_i18n": _("Benefits in other languages"),
            "min_points": _("Points to reach it"),
            "window_days": _("Earned within (days)"),
            "earn_multiplier": _("Points multiplier"),
        }

    # What the program admin hands to ``tiers_replace`` for each card.
    SERVICE_FIELDS = ("name", "min_points", "window_days", "min_rating", "earn_multiplier",
                      "badge", "benefits", "flags", "name_i18n", "benefits_i18n")  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = {value for value, _label in FLAG_CHOICES}
        flags = list(self.instance.flags or []) if self.instance.pk else []
        self.initial["flags"] = [f for f in flags if f in known]
        self.initial["other_flags"] = [f for f in flags if f not in known]
        if not self.instance.pk:
            self.initial.setdefault("badge", DEFAULT_COLOUR)
        for name in ("min_points", "window_days", "min_rating", "earn_multiplier"):
            self.fields[name].widget.attrs.setdefault("size", 8)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if cleaned is not None:
            cleaned["flags"] = [*cleaned.get("flags", []), *cleaned.get("other_flags", [])]
        return cleaned

    def _post_clean(self) -> None:
        # The program's tiers are judged together by ``tiers_check`` (a swap of two names is
        # fine there); one card alone must not be refused by the database's unique names.
        self.instance.flags = self.cleaned_data.get("flags", [])

    def payload(self) -> dict[str, Any]:
        """The card in the shape ``tiers_replace`` takes."""
        perk = self.cleaned_data.get("perk")
        return {
            "id": self.instance.pk,
            **{n: self.cleaned_data[n] for n in self.SERVICE_FIELDS},
            "perk": perk.pk if perk is not None else None,
        }


class TierFormSet(OptionalInlineFormSet):
    """The program's cards; ``tiers_check`` judges them together before the save."""

    def add_fields(self, form: forms.ModelForm[Any], index: int | None) -> None:
        super().add_fields(form, index)
        if "perk" in form.fields:
            # The program's own templates only (the service checks it too).
            field = cast(forms.ModelChoiceField, form.fields["perk"])
            field.queryset = CouponTemplate.objects.filter(program_id=self.instance.pk or 0)

    def kept_forms(self) -> list[TierForm]:
        return [
            cast(TierForm, form)
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and (form.instance.pk or form.has_changed())
        ]

    def clean(self) -> None:
        if not self.is_bound or any(self.errors):
            return
        rows = self.kept_forms()
        try:
            tiers_check([form.payload() for form in rows],
                        program=self.instance if self.instance.pk else None)  # fmt: skip
        except InvalidInput as exc:
            for name, messages in exc.fields.items():
                # "tiers.2.name": the third card sent, its name.
                index, _dot, field = name.removeprefix("tiers.").partition(".")
                if index.isdigit() and int(index) < len(rows):
                    form = rows[int(index)]
                    form.add_error(field if field in form.fields else None, list(messages))
                else:
                    raise forms.ValidationError(list(messages)) from None
