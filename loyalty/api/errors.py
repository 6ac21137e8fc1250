"""Every non-2xx answer is ``{"code", "detail", "fields"?}`` (API.md, General)."""

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty.errors import InvalidInput, LoyaltyError, PayloadTooLarge

# The codes this handler answers besides the services' own (``loyalty.errors``,
# ``rewards.errors``): DRF's refusals (their ``default_code``), the cursor pagination's, and
# the API's own 404 for unknown paths and 500 (``loyalty.api.base``). With those two modules,
# the API's whole error vocabulary: the schema documents no other code.
HANDLER_CODES = frozenset(
    {
        "validation_error",
        "parse_error",
        "invalid_cursor",
        "not_authenticated",
        "authentication_failed",
        "permission_denied",
        "not_found",
        "method_not_allowed",
        "unsupported_media_type",
        "server_error",
    }
)


def _flatten(detail: Any) -> Any:
    """DRF error details as plain strings and lists, for the ``fields`` object."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def dotted(prefix: str, detail: Any) -> dict[str, list[str]]:
    """Nested input errors as flat keys: ``{"thresholds.0.coupon.value": ["..."]}``.

    The services name the fields of nested input that way; serializer errors of the
    same input are flattened to match, so one request gets one naming.
    """
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(dotted(f"{prefix}.{key}", value))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(dotted(f"{prefix}.{index}", item))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix: [str(message) for message in messages]}


@contextmanager
def fields_under(prefix: str, names: Collection[str]) -> Iterator[None]:
    """A service's ``InvalidInput`` about ``names`` re-keyed as ``prefix.name``: the fields
    of a nested object of the body (``{"coupon": {"value": ...}}`` -> ``coupon.value``)."""
    try:
        yield
    except InvalidInput as exc:
        fields = {f"{prefix}.{key}" if key in names else key: v for key, v in exc.fields.items()}
        raise InvalidInput(fields) from exc


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read the body (by its Content-Length, before reading any of it);
        # left to Django, that is an HTML 400 page.
        exc = PayloadTooLarge(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, LoyaltyError):
        set_rollback()
        fields = exc.fields if isinstance(exc, InvalidInput) else None
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        # A refusal may say more than its detail (``no_eligible_items``: the lines, the scope).
        body = {**error_body(exc.code, exc.detail, fields), **getattr(exc, "extra", {})}
        return Response(body, status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django answers 500 and logs it

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(exc.wait)  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, list):
            detail = {"non_field_errors": detail}
        body = error_body("validation_error", _("Some fields are invalid; see 'fields'."),
                          _flatten(detail))  # fmt: skip
        return Response(body, status=status.HTTP_400_BAD_REQUEST, headers=headers)
    code = exc.get_codes()
    code = code if isinstance(code, str) else exc.default_code
    return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
