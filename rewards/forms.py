"""Forms of the rewards backoffice: coupon templates, coupons issued by staff, voiding.

They parse and present; the rules live in ``rewards.services`` (``terms_check``,
``coupon_void``, ``admin_ops``). A service's refusal is put back on the field it
names with ``add_service_error``, so staff see it next to what they typed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from loyalty.builder.thresholds import SCOPE_LABELS, scope_error_field
from loyalty.content_fields import TranslationsFormField
from loyalty.errors import InvalidInput
from loyalty.form_fields import AmountField, NameListField
from loyalty.forms import PlainConstraintForm, add_service_error
from loyalty.models import Program
from rewards.lines import SCOPE_KEYS, scope_clean
from rewards.models import VALUELESS_KINDS, Coupon, CouponKind, CouponTemplate
from rewards.services.coupon_jobs import terms_payload
from rewards.services.coupons import MAX_REASON, CouponTerms, terms_check
from rewards.services.reward_terms import REWARD_FIELDS
from rewards.services.thresholds import MONEY_TERM_FIELDS, TERM_FIELDS

CSV_PREVIEW_SALT = "rewards.coupon-csv-preview"
CSV_PREVIEW_MAX_AGE = 3600  # seconds between the preview and the confirmation


def terms_errors(form: forms.BaseForm, terms: CouponTerms | CouponTemplate, currency: str) -> None:
    """``terms_check``'s refusals, on the form's fields (a scope's on its list's field)."""
    try:
        terms_check(terms, currency=currency)
    except InvalidInput as error:
        fields = {
            (
                scope_error_field(name, getattr(form, "cleaned_data", {}))
                if name.partition(".")[0] == "scope" and name not in form.fields
                else name
            ): messages
            for name, messages in error.fields.items()
        }
        add_service_error(form, InvalidInput(fields))


class CouponTemplateForm(PlainConstraintForm):
    """A coupon template; its terms are checked by ``terms_check`` in the program's currency.

    ``default_program`` is the program of a template added by a merchant's staff
    (who do not choose one); the admin sets it on a subclass.
    """

    default_program: Program | None = None

    min_order_amount = AmountField(
        required=False, initial=Decimal(0), label=_("Minimum order amount")
    )
    value = AmountField(
        required=False,
        help_text=_("Percent (e.g. 10) or an amount; empty for a free product or free shipping."),
    )
    product_quantity = forms.IntegerField(
        required=False, initial=1, label=_("Free product: quantity")
    )
    include_skus = NameListField(label=SCOPE_LABELS["include_skus"])
    include_categories = NameListField(label=SCOPE_LABELS["include_categories"])
    exclude_skus = NameListField(label=SCOPE_LABELS["exclude_skus"])
    exclude_categories = NameListField(label=SCOPE_LABELS["exclude_categories"])

    class Meta:
        model = CouponTemplate
        fields = (
            "program", "name", "name_i18n", *MONEY_TERM_FIELDS,
            *(name for name in REWARD_FIELDS if name != "scope"),
        )  # fmt: skip
        field_classes = {"max_discount": AmountField}
        # The base name is the English one; the other languages are asked for below it.
        labels = {"name": _("Name (English)"), "name_i18n": _("Name in other languages")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.program_id is None and self.default_program is not None:
            self.instance.program = self.default_program
        for key in SCOPE_KEYS:
            self.initial.setdefault(key, (self.instance.scope or {}).get(key, []))

    def clean_product_quantity(self) -> int:
        quantity: int | None = self.cleaned_data.get("product_quantity")
        return 1 if quantity is None else quantity

    def clean_value(self) -> Decimal:
        amount: Decimal | None = self.cleaned_data.get("value")
        return Decimal(0) if amount is None else amount

    def clean_min_order_amount(self) -> Decimal:
        amount: Decimal | None = self.cleaned_data.get("min_order_amount")
        return Decimal(0) if amount is None else amount

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        program = cleaned.get("program") or (
            self.instance.program if self.instance.program_id else None
        )
        if program is None or any(name in self.errors for name in (*TERM_FIELDS, *SCOPE_KEYS)):
            return cleaned
        self.instance.scope = scope_clean({key: cleaned.get(key) for key in SCOPE_KEYS})
        rewards: dict[str, Any] = {name: cleaned.get(name) for name in REWARD_FIELDS}
        terms = CouponTerms(
            kind=cleaned.get("kind") or "",
            value=cleaned["value"],
            max_discount=cleaned.get("max_discount"),
            min_order_amount=cleaned.get("min_order_amount") or Decimal(0),
            valid_days=cleaned["valid_days"],
            uses=cleaned["uses"],
            **(rewards | {"scope": self.instance.scope}),
        )
        terms_errors(self, terms, program.currency)
        return cleaned


class CouponTermsForm(forms.Form):
    """What a staff-issued coupon takes off: a template's terms, or terms typed here;
    and why it is given (the reason is recorded with every coupon)."""

    required_css_class = "required"

    template = forms.ModelChoiceField(
        queryset=CouponTemplate.objects.none(),
        required=False,
        empty_label=_("— none: use the terms below —"),
        help_text=_("Copy the terms of a template, or leave empty and give the terms below."),
    )
    # A free product names its product: it is issued from a template (chosen above).
    kind = forms.ChoiceField(
        choices=[c for c in CouponKind.choices if c[0] != CouponKind.FREE_PRODUCT],
        initial=CouponKind.FIXED,
        required=False,
    )
    value = AmountField(
        required=False, help_text=_("Percent (e.g. 10) or an amount in the program's currency.")
    )
    max_discount = AmountField(required=False, help_text=_("Cap on a percent discount."))
    min_order_amount = AmountField(required=False, label=_("Minimum order amount"))
    valid_days = forms.IntegerField(initial=30, required=False, label=_("Valid for (days)"))
    uses = forms.IntegerField(
        initial=1, required=False, help_text=_("How many orders may use the coupon.")
    )
    source = forms.ChoiceField(
        choices=[
            (Coupon.Source.COMPENSATION, Coupon.Source.COMPENSATION.label),
            (Coupon.Source.PROMOTION, Coupon.Source.PROMOTION.label),
        ],
        initial=Coupon.Source.COMPENSATION,
        widget=forms.RadioSelect,
    )
    # Whether a reason is given is the service's rule (and message); the form only carries it.
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "required": True}),
        help_text=_("Required. Recorded with each coupon and shown in its history."),
    )
    reason_i18n = TranslationsFormField(
        max_length=MAX_REASON,
        label=_("Reason per language"),
        help_text=_("What the member reads in its language; empty: the reason above."),
    )
    skip_already_issued = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Skip members who already received a coupon for this reason"),
        help_text=_("So that sending the same list again issues nothing twice."),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        self.terms: CouponTerms | CouponTemplate | None = None
        template = self.fields["template"]
        assert isinstance(template, forms.ModelChoiceField)
        template.queryset = CouponTemplate.objects.filter(program=program).order_by("name", "pk")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        template: CouponTemplate | None = cleaned.get("template")
        typed = [n for n in ("value", "max_discount", "min_order_amount") if cleaned.get(n)]
        if template is not None:
            if typed:
                for name in typed:
                    self.add_error(name, _("Choose a template or type the terms, not both."))
            else:
                self.terms = template
            return cleaned
        if cleaned.get("value") is None and cleaned.get("kind") in VALUELESS_KINDS:
            cleaned["value"] = Decimal(0)  # free shipping (a free product needs a template)
        if cleaned.get("value") is None:
            if "value" not in self.errors:
                self.add_error("value", _("Give the coupon's value, or choose a template."))
            return cleaned
        if any(name in self.errors for name in TERM_FIELDS):
            return cleaned
        terms = CouponTerms(
            kind=cleaned.get("kind") or "",
            value=cleaned["value"],
            max_discount=cleaned.get("max_discount"),
            min_order_amount=cleaned.get("min_order_amount") or Decimal(0),
            valid_days=_or(cleaned.get("valid_days"), 30),
            uses=_or(cleaned.get("uses"), 1),
        )
        terms_errors(self, terms, self.program.currency)
        if not self.errors:
            self.terms = terms
        return cleaned

    def terms_payload(self) -> dict[str, Any]:
        """The chosen terms as JSON (``terms_payload``): a template's id, or the typed terms."""
        assert self.terms is not None
        return terms_payload(self.terms)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


class CouponIssueForm(CouponTermsForm):
    """Issue a coupon to the selected members. The hidden ``key`` is made when the form is
    shown, so sending it twice (a double click, a reload) issues the coupons once."""

    key = forms.UUIDField(widget=forms.HiddenInput)


class CouponCsvForm(CouponTermsForm):
    """Issue a coupon to each member of a CSV of external ids (checked in a preview first)."""

    field_order = ("file",)

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "One external id per line, in a column headed external_id (the header is "
            "optional). At most 10,000 rows."
        ),
    )


class CouponCsvConfirmForm(forms.Form):
    """The previewed batch, signed, so what is issued is exactly what was previewed."""

    payload = forms.CharField(widget=forms.HiddenInput)

    def clean_payload(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = signing.loads(
                self.cleaned_data["payload"], salt=CSV_PREVIEW_SALT, max_age=CSV_PREVIEW_MAX_AGE
            )
        except signing.SignatureExpired:
            raise forms.ValidationError(
                _("The preview is more than an hour old. Upload the file again.")
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                _("The preview was altered. Upload the file again.")
            ) from None
        return data

    @staticmethod
    def sign(data: dict[str, Any]) -> str:
        return signing.dumps(data, salt=CSV_PREVIEW_SALT, compress=True)


class CouponVoidForm(forms.Form):
    """Why the selected coupons are voided; whether reward coupons give their points back."""

    required_css_class = "required"

    # Whether a reason is given is the service's rule (and message); the form only carries it.
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "required": True}),
        help_text=_("Required. Recorded in each coupon's history."),
    )
    reason_i18n = TranslationsFormField(
        max_length=MAX_REASON,
        label=_("Reason per language"),
        help_text=_("What the member reads in its language; empty: the reason above."),
    )
    return_points = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Give reward coupons' points back to their members"),
    )
