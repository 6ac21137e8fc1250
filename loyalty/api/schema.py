"""drf-spectacular pieces: the Bearer scheme, the headers every write accepts, and the
scopes each operation needs.

The scopes in the schema (each operation's description and its ``x-required-scopes``)
are read from the same declaration ``HasScope`` enforces (``scopes_required``): what
the document says a key needs is what the API checks.
"""

import re
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_choice_description_list
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.api import schema_program  # noqa: F401 - its extensions register when imported
from loyalty.api.auth import scopes_required
from loyalty.api.schema_errors import error_codes_extension, errors
from loyalty.api.schema_text import NOT_TRIMMED, trimmed_text_pattern
from loyalty.api.serializers.fields import TextField
from loyalty.ids import RESERVED_ORDER_IDS
from loyalty.money import minor_unit

SCOPES_EXTENSION = "x-required-scopes"
# The text fields whose schema says what DRF's CharField refuses (NUL, blank, length trimmed).
PLAIN_TEXT = (serializers.CharField, TextField)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key made with `manage.py create_api_key` or in the admin.",
        }


class NamedChoiceFieldScheme(OpenApiSerializerFieldExtension):
    """A choice set used in several components becomes one named enum component (without
    it, spectacular names such sets by a hash and warns)."""

    target_class = "loyalty.api.serializers.fields.NamedChoiceField"

    def get_name(self) -> str:
        return str(self.target.enum_name)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        choices = list(self.target.choices.items())
        return {
            "type": "string",
            "enum": [value for value, _label in choices],
            "description": build_choice_description_list(choices),
        }


# What the API enforces of the header (``loyalty.idempotency``): 1 to 255 characters.
# The currency the document being generated is exact for (``SchemaView``).
DOCUMENT_CURRENCY: ContextVar[str | None] = ContextVar("document_currency", default=None)


def caller_currency(auto_schema: Any) -> str | None:
    return DOCUMENT_CURRENCY.get()


class SchemaView(SpectacularAPIView):
    """``GET /api/v1/schema/``: the document, exact for a program's currency when it can be:
    that of the key's program when a key asks, else that of ``?currency=EUR``, else none
    (amounts then allow the 3 decimals some currencies have, and any currency code)."""

    def _get_schema_response(self, request: Request) -> Response:
        merchant = getattr(request.auth, "merchant", None)
        asked = str(request.query_params.get("currency", ""))
        currency = (
            str(merchant.program.currency)
            if merchant is not None
            else asked.upper()
            if re.fullmatch("[A-Za-z]{3}", asked)
            else None
        )
        token = DOCUMENT_CURRENCY.set(currency)
        try:
            response: Response = super()._get_schema_response(request)
        finally:
            DOCUMENT_CURRENCY.reset(token)
        return response


def amount_pattern(decimals: int, *, above_zero: bool) -> str:
    """What an amount the API accepts looks like: digits, at most ``decimals`` of them after
    the dot (more only as trailing zeros, up to 3), at most 1000000000, above zero if asked."""
    pad = rf"0{{0,{3 - decimals}}}"  # trailing zeros up to the 3 decimals the API takes
    fraction = rf"(\.[0-9]{{1,{decimals}}}{pad})?" if decimals else r"(\.0{1,3})?"
    parts = [rf"0*[1-9][0-9]{{0,8}}{fraction}" if above_zero else rf"0*[0-9]{{1,9}}{fraction}"]
    if above_zero:  # 0.xx: some digit after the dot is not 0
        parts += [
            rf"0+\.[0-9]{{{k}}}[1-9][0-9]{{0,{decimals - 1 - k}}}{pad}" for k in range(decimals)
        ]
    whole = "|".join(parts)
    top = r"0*1000000000(\.0{1,3})?"
    return rf"^({whole}|{top})$"


def decimal_pattern(field: serializers.DecimalField) -> str:
    """A decimal string DRF's DecimalField takes: digits (a sign only when it may be below
    zero), at most ``decimal_places`` after the dot."""
    whole = (field.max_digits or 20) - (field.decimal_places or 0)
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    places = field.decimal_places or 0
    fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
    top = Decimal(field.max_value) if field.max_value is not None else None
    if sign == "" and top is not None and top > 1 and top == 10 ** (len(str(int(top))) - 1):
        # At most 10^k (an earn rate's 100000): k digits, or 10^k itself with zeros after.
        digits = len(str(int(top))) - 1
        zeros = rf"(\.0{{1,{places}}})?" if places else ""
        if field.min_value is not None and Decimal(field.min_value) == 1:
            # From 1 (a multiplier): no 0 before the dot.
            return rf"^([1-9][0-9]{{0,{digits - 1}}}{fraction}|{int(top)}{zeros})$"
        return rf"^([0-9]{{1,{digits}}}{fraction}|{int(top)}{zeros})$"
    return rf"^{sign}[0-9]{{1,{whole}}}{fraction}$"


class AmountFieldScheme(OpenApiSerializerFieldExtension):
    """An amount: a decimal string with its exact pattern (the caller's currency's decimals
    when a key asked for the document, else up to 3), or a JSON number."""

    target_class = "loyalty.api.serializers.fields.AmountField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        currency = caller_currency(auto_schema)
        decimals = 3 if currency is None else minor_unit(currency)
        above_zero = bool(getattr(self.target, "above_zero", False))
        low = "more than 0" if above_zero else "0"
        own = str(self.target.help_text or "")
        text = {
            "type": "string",
            "format": "decimal",
            "pattern": amount_pattern(decimals, above_zero=above_zero),
        }
        described = {
            "example": "4990" if decimals == 0 else "49.90",
            "description": (own + " " if own else "")
            + f"A decimal string, {low} to 1000000000, with at most {decimals} decimals"
            + (f" ({currency})." if currency else " (as many as the currency has).")
            + " A JSON number is accepted too.",
        }
        if direction == "response":
            text.pop("pattern")
            return {**text, **described}
        # The JSON number the API takes as well (read as an exact decimal, never a float).
        number: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1000000000}
        if above_zero:
            number["exclusiveMinimum"] = True
        if currency is not None:
            number["multipleOf"] = 1 if decimals == 0 else float(Decimal(1).scaleb(-decimals))
        return {"anyOf": [text, number], **described}


class MoneyOutFieldScheme(OpenApiSerializerFieldExtension):
    """An amount in an answer: in the document's currency's minor unit when it has one."""

    target_class = "loyalty.api.serializers.fields.MoneyOutField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        currency = caller_currency(auto_schema)
        if currency is None:
            said = "as many decimals as the currency has (2 for EUR, 0 for JPY, 3 for KWD)"
            pattern = r"^[0-9]+(\.[0-9]{1,3})?$"
        else:
            places = minor_unit(currency)
            said = f"{places} decimals ({currency})"
            pattern = rf"^[0-9]+\.[0-9]{{{places}}}$" if places else r"^[0-9]+$"
        own = str(self.target.help_text or "")
        return {
            **schema,
            "format": "decimal",
            "pattern": pattern,
            "description": (own + " " if own else "") + f"A decimal string with {said}.",
        }


class CurrencyFieldScheme(OpenApiSerializerFieldExtension):
    """A currency: the caller's program's code (in any case) when a key asked for the
    document, else any three letters (ISO 4217; another than the program's is 422)."""

    target_class = "loyalty.api.serializers.fields.CurrencyField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        currency = caller_currency(auto_schema)
        if currency is None:
            return {
                "type": "string",
                "pattern": "^[A-Za-z]{3}$",
                "example": "EUR",
                "description": "The program's ISO 4217 currency code, e.g. EUR; another "
                "currency is refused with 422 `currency_mismatch`.",
            }
        either = "".join(f"[{c.upper()}{c.lower()}]" for c in currency)
        return {
            "type": "string",
            "pattern": f"^{either}$",
            "example": currency,
            "description": f"The program's ISO 4217 currency code: {currency} (in any case).",
        }


def external_id_pattern(*, reserved: frozenset[str] = frozenset()) -> str:
    """``loyalty.ids``' rule as a pattern: no '/', no control character, not "." or ".."
    (nor one of ``reserved``)."""
    refused = "|".join([r"\.", r"\.\.", *sorted(reserved)])
    return rf"^(?!({refused})$)[^/\x00-\x1f\x7f-\x9f]+$"


EXTERNAL_ID_EXAMPLES = {"member": "cus_1042", "to": "cus_2077", "external_id": "RF-0815-1"}


class ExternalIdFieldScheme(OpenApiSerializerFieldExtension):
    target_class = "loyalty.api.serializers.fields.ExternalIdField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            reserved = RESERVED_ORDER_IDS if getattr(self.target, "order", False) else frozenset()
            schema["pattern"] = external_id_pattern(reserved=reserved)
            name = getattr(self.target, "field_name", "")
            example = "ORD-2024-0815" if reserved else EXTERNAL_ID_EXAMPLES.get(name)
            if example:
                schema.setdefault("example", example)
        return dict(schema)


# The id in the path of a PUT that may create the member: the same rule as in bodies.
NEW_EXTERNAL_ID = OpenApiParameter(
    "external_id",
    {"type": "string", "minLength": 1, "maxLength": 191, "pattern": external_id_pattern()},
    OpenApiParameter.PATH,
    description="Your id of the member: 1 to 191 characters, no '/' or control characters, "
    "not '.' or '..'.",
    examples=[OpenApiExample("cus_1042", value="cus_1042")],
)


IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "example": "order-ORD-2024-0815-attempt",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    IDEMPOTENCY_KEY_SCHEMA,
    OpenApiParameter.HEADER,
    description=(
        "Makes a write safe to retry: 1 to 255 characters, unique per "
        "operation you mean (a UUID, or your own id of the operation). The same key with the "
        "same body answers the first answer again (same status, same body) without doing "
        "anything twice; the same key with another body gets 409 `idempotency_conflict`. "
        'Keys are kept at least 24 hours. Answers that say "not now" (429, 5xx) are not '
        "kept: retrying with the same key runs the request again."
    ),
)

# For an operation that changes nothing: there is nothing to make retry-safe; the header is
# allowed so a client may send one with every call, and not looked at (any value).
IDEMPOTENCY_KEY_IGNORED = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Accepted and ignored: this changes nothing, so it is always safe to retry.",
)

# For an answer that holds a sign-in secret: kept for replay, it would sit in the idempotency
# table for IDEMPOTENCY_TTL_HOURS and be handed out again, though it may be spent already.
IDEMPOTENCY_KEY_NOT_KEPT = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Accepted, but no answer is kept: every call, a retry with the same key included, "
        "answers a new link."
    ),
)


def scopes_text(scopes: tuple[str, ...]) -> str:
    """The scope sentence of an operation's description."""
    names = " or ".join(f"`{scope}`" for scope in scopes)
    either = "any one of them; " if len(scopes) > 1 else ""
    return f"**Scope:** {names} ({either}a key without it gets 403 `permission_denied`)."


# OpenAPI links: what an answer's ids lead to (clients and Schemathesis' stateful phase follow
# them). operation -> {link name: (target operation, {target parameter: where in the answer})}.
LINKS = {
    "order_create": {
        "GetOrder": ("order_get", {"external_id": "$response.body#/external_id"}),
        "RefundOrder": ("order_refund", {"external_id": "$response.body#/external_id"}),
        "GetMember": ("member_get", {"external_id": "$response.body#/member"}),
        "GetMemberLedger": ("member_ledger", {"external_id": "$response.body#/member"}),
        "GetMemberCoupons": ("member_coupons", {"external_id": "$response.body#/member"}),
    },
}


def add_links(operation: dict[str, Any]) -> None:
    links = LINKS.get(operation.get("operationId", ""), {})
    for status, response in operation["responses"].items():
        if links and str(status).startswith("2"):
            response["links"] = {
                name: {"operationId": target, "parameters": dict(parameters)}
                for name, (target, parameters) in links.items()
            }


def _trimmed_text(field: Any) -> bool:
    return (
        type(field) in PLAIN_TEXT
        and bool(field.trim_whitespace)
        and bool(field.max_length)
        and not field.read_only
    )


def _length_by_pattern(schema: dict[str, Any], field: Any) -> dict[str, Any]:
    """A trimmed text's schema with its lengths said by its pattern alone (``maxLength`` would
    count the blanks DRF trims off), and one schema for a blank-allowed text (drf-spectacular's
    ``oneOf`` with an empty string matches "" twice, so refuses it)."""
    branches = schema.get("oneOf")
    if branches and len(branches) == 2 and branches[1] == {"type": "string", "maxLength": 0}:
        outer = {key: value for key, value in schema.items() if key != "oneOf"}
        schema = {**branches[0], **outer}
    if "pattern" in schema and schema.get("type") == "string":
        schema = {key: value for key, value in schema.items()
                  if key not in ("maxLength", "minLength")}  # fmt: skip
        low = 0 if field.allow_blank else 1
        said = f"{low} to {field.max_length} characters, blanks around them not counted."
        schema["description"] = " ".join(filter(None, [schema.get("description", ""), said]))
    return schema


class ScopedAutoSchema(AutoSchema):
    """Every operation states the scopes that may call it (its description and
    ``x-required-scopes``), and every operation that takes a body documents 413; every error
    response lists its codes (``x-error-codes``); a component describes itself."""

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        """A component's description is its own class's docstring, never one inherited
        from a base class (those explain the code, not the shape); a serializer that refuses
        keys it does not know (``refuses_unknown_keys``) says so: no additional properties."""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if not vars(type(serializer)).get("__doc__"):
            schema.pop("description", None)
        if direction == "request" and getattr(serializer, "refuses_unknown_keys", False):
            schema["additionalProperties"] = False
        if direction == "request":
            for name, field in serializer.fields.items():
                found = schema.get("properties", {}).get(name)
                if found is None:
                    continue
                if _trimmed_text(field):
                    schema["properties"][name] = _length_by_pattern(found, field)
                elif _trimmed_text(getattr(field, "child", None)) and "items" in found:
                    found["items"] = _length_by_pattern(found["items"], field.child)
        return schema

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        """Text a body sends: what DRF's CharField refuses said as a pattern (no NUL
        character; not blank once trimmed, unless blank is allowed)."""
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and type(field) in PLAIN_TEXT
            and schema.get("type") == "string"
            and "pattern" not in schema
        ):
            blank = field.allow_blank or not field.trim_whitespace
            if field.trim_whitespace and field.max_length:
                # DRF counts the length once trimmed: padding does not count.
                schema.pop("maxLength", None)
                schema["pattern"] = trimmed_text_pattern(field.max_length, blank=blank)
            else:
                schema["pattern"] = r"^[^\x00]*$" if blank else rf"^[^\x00]*{NOT_TRIMMED}[^\x00]*$"
        elif (
            direction == "request"
            and type(field) is serializers.DecimalField
            and schema.get("type") == "string"
        ):
            schema["pattern"] = decimal_pattern(field)
        return schema

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        scopes = scopes_required(self.view, method)
        operation[SCOPES_EXTENSION] = list(scopes)
        description = operation.get("description", "")
        operation["description"] = "\n\n".join(filter(None, [description, scopes_text(scopes)]))
        if "requestBody" in operation:
            operation["responses"].setdefault(
                "413", self._get_response_for_code(errors(413)[413], "413")
            )
        error_codes_extension(operation)
        add_links(operation)
        return operation
