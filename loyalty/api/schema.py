"""drf-spectacular pieces: the Bearer scheme and the headers every write accepts."""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_choice_description_list
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from loyalty.api.serializers import ErrorSerializer


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

    target_class = "loyalty.api.serializers.NamedChoiceField"

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
        429: "Too many guesses of coupon codes (`rate_limited`); retry after `Retry-After` "
        "seconds.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=text[code]) for code in codes}
