"""drf-spectacular pieces: the Bearer scheme, the headers every write accepts, and the
scopes each operation needs.

The scopes in the schema (each operation's description and its ``x-required-scopes``)
are read from the same declaration ``HasScope`` enforces (``scopes_required``): what
the document says a key needs is what the API checks.
"""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_choice_description_list
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from loyalty.api.auth import scopes_required
from loyalty.api.serializers.fields import ErrorSerializer

SCOPES_EXTENSION = "x-required-scopes"


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


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Retry-safe writes: the same key with the same body returns the first answer again; "
        "with another body, 409 idempotency_conflict. Kept at least 24 h."
    ),
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


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses in the one error shape, for the schema."""
    text = {
        400: "Invalid input (`validation_error` with `fields`, `parse_error`, or "
        "`invalid_cursor`).",
        401: "Missing or invalid API key (`not_authenticated`, `authentication_failed`).",
        403: "The key lacks the scope (`permission_denied`).",
        404: "Not found in this merchant's program.",
        409: "Conflict with an earlier request.",
        422: "A business rule refused the request; `code` says which.",
        413: "The body is larger than the API accepts (`payload_too_large`); send less, "
        "e.g. a batch in several parts.",
        429: "Too many guesses of coupon codes (`rate_limited`); retry after `Retry-After` "
        "seconds.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=text[code]) for code in codes}


def scopes_text(scopes: tuple[str, ...]) -> str:
    """The scope sentence of an operation's description."""
    names = " or ".join(f"`{scope}`" for scope in scopes)
    either = "any one of them; " if len(scopes) > 1 else ""
    return f"**Scope:** {names} ({either}a key without it gets 403 `permission_denied`)."


class ScopedAutoSchema(AutoSchema):
    """Every operation states the scopes that may call it (its description and
    ``x-required-scopes``), and every operation that takes a body documents 413."""

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
        return operation
