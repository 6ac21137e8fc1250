"""Fields and helpers that every API serializer shares, and the rules of the API's shapes.

Inputs are validated for type and form; business rules (currency, amounts that fit the
currency, refundable amount, balances, coupon terms) are the services'. Amounts go out as
decimal strings in the currency's minor unit ("12.50"); a percentage as a plain decimal
string ("10", "12.5").

Every external id an integrator sends in a body can be addressed in a URL later: no '/', no
control characters, not "." or "..".
"""

import re
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty import money
from loyalty.api.errors import dotted
from loyalty.ids import external_id_problem
from rewards.models import CouponKind

LOCALES = [code for code, _name in settings.LANGUAGES]


class TextField(serializers.CharField):
    """Text, sent as a JSON string: DRF's CharField also takes a number and reads it as text
    (``0`` as ``"0"``), which the schema does not allow (a string, with its pattern)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class MoneyOutField(TextField):
    """An amount in an answer: a decimal string in the currency's minor unit
    (``money.money_str``); the schema's pattern is exact for the document's currency
    (``loyalty.api.schema.MoneyOutFieldScheme``)."""


class TextRegexField(serializers.RegexField):
    """DRF's RegexField for JSON strings only (see ``TextField``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


def addressable(value: str) -> None:
    """The external id rule of ``loyalty.ids`` as a serializer validator."""
    problem = external_id_problem(value)
    if problem:
        raise serializers.ValidationError(problem, code="invalid")


def check_path_id(value: str, name: str = "external_id") -> None:
    """The same rule for an id that comes in the path and creates something."""
    try:
        addressable(value)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc


class ExternalIdField(TextField):
    """An id of the integrator's: 1 to 191 characters, none of them '/' or a control
    character, and not "." or ".." (``loyalty.ids``); the schema states it as a pattern
    (``loyalty.api.schema.ExternalIdFieldScheme``). ``order``: an order's id, which cannot
    name an endpoint under /orders/ either ("quote", "batch")."""

    def __init__(self, *, order: bool = False, **kwargs: Any) -> None:
        self.order = order
        super().__init__(max_length=191, trim_whitespace=False, validators=[addressable], **kwargs)


def external_id_field(**kwargs: Any) -> ExternalIdField:
    return ExternalIdField(**kwargs)


class CurrencyField(TextRegexField):
    """An ISO 4217 code, in any case; the program's own, or 422 ``currency_mismatch`` (the
    services'). Documented by ``loyalty.api.schema.CurrencyFieldScheme``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(r"^[A-Za-z]{3}$", max_length=3, **kwargs)


def currency_field(**kwargs: Any) -> CurrencyField:
    return CurrencyField(**kwargs)


# An amount as a string: digits, and a fraction after a dot ("12.50", "1250", "0.005").
# What the schema documents (loyalty.api.schema.AmountFieldScheme), enforced here: no sign,
# exponent, blanks or bare dot, which Decimal() would take. A JSON number is taken as well.
AMOUNT_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")


class AmountField(serializers.DecimalField):
    """An amount of money, 0 to ``money.MAX_AMOUNT`` (``above_zero``: more than 0), in the
    currency's decimals (the services check those, and the range, with their own words)."""

    def __init__(self, *, above_zero: bool = False, **kwargs: Any) -> None:
        self.above_zero = above_zero
        super().__init__(max_digits=16, decimal_places=3, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str) and not AMOUNT_TEXT.fullmatch(data):
            self.fail("invalid")
        if isinstance(data, bool):  # True is an int to Python, not an amount to anyone
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        return value


def amount_field(**kwargs: Any) -> AmountField:
    return AmountField(**kwargs)


# An amount in the currency's minor unit ("12.50"), a percentage ("10", "12.5"): ``loyalty.money``.
amount_str = money.money_str
percent_str = money.percent_str


def datetime_out(value: datetime | None) -> str | None:
    """A date and time as DRF's DateTimeField shows it (ISO 8601 in the current time zone,
    UTC as "Z"), for ``present`` methods whose result is the representation already.
    Its own ``to_representation`` costs ten times more."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def terms_out(
    *, kind: str, value: Decimal, max_discount: Decimal | None, min_order_amount: Decimal,
    currency: str,
) -> dict[str, Any]:  # fmt: skip
    """A coupon's or template's money terms as the API shows them."""
    return {
        "kind": kind,
        "value": money.value_str(value, currency, percent=kind == CouponKind.PERCENT),
        "max_discount": None if max_discount is None else amount_str(max_discount, currency),
        "min_order_amount": amount_str(min_order_amount, currency),
    }


# A serializer deep-copies its declared fields each time it is made, and each nested one
# again when first used: on the hot paths (an order, a checkout) that copying costs far more
# than the validation or the representation themselves. The fields keep no state between
# calls (messages stay lazy, so they follow each request's language), so one bound instance
# per class serves every request. No context: serializers that read one are made as usual.


@cache
def _bound(serializer_class: type[serializers.Serializer], many: bool = False) -> Any:
    return serializer_class(many=many)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data)``'s validated data after ``is_valid(raise_exception=True)``.

    Invalid input is checked again by a new instance, so the error is exactly DRF's.
    """
    try:
        return _bound(serializer_class).run_validation(data)
    except serializers.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def represent(
    serializer_class: type[serializers.Serializer], value: Any, many: bool = False
) -> Any:
    """``serializer_class(value, many=many).data``."""
    if value is None:  # DRF answers the initial (empty) representation
        return serializer_class(value, many=many).data
    return _bound(serializer_class, many).to_representation(value)


@extend_schema_field(
    {"type": "string", "enum": sorted(available_timezones()), "example": "Europe/Madrid",
     "description": "An IANA time zone name."}
)  # fmt: skip
class TimeZoneField(serializers.CharField):
    """An IANA time zone name (the services check it; the schema lists them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, **kwargs)


class TranslationsField(serializers.JSONField):
    """A text per language (``loyalty.content``): known languages only, each a text of at
    most ``text_length`` characters (``lines``: a list of such texts); the services check it,
    ``loyalty.api.schema.TranslationsFieldScheme`` says it."""

    def __init__(self, *, text_length: int, lines: bool = False, **kwargs: Any) -> None:
        self.text_length, self.lines = text_length, lines
        super().__init__(**kwargs)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as the named enum component ``enum_name``."""

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


def coupon_kind_field(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(enum_name="CouponKindEnum", choices=CouponKind.choices, **kwargs)


class BoundedListField(serializers.ListField):
    """DRF's ListField with its ``max_length`` checked before any item is validated.

    DRF validates every item first and counts them after: an order with 50,000 lines
    took seconds to refuse. Here the refusal costs one ``len``, with DRF's own error.
    """

    def to_internal_value(self, data: Any) -> Any:
        if self.max_length is not None and isinstance(data, list) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class DottedErrorsSerializer(serializers.Serializer):
    """Errors inside the ``dotted_fields`` come out under flat keys ("coupon.value",
    "thresholds.0.coupon.value"), the way the services name the same fields."""

    dotted_fields: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            detail: dict[str, Any] = dict(exc.detail)
            for name in self.dotted_fields:
                if name in detail:
                    detail.update(dotted(name, detail.pop(name)))
            raise serializers.ValidationError(detail) from exc


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]
