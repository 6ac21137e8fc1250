"""What every API view shares: the caller's program, writes that honour Idempotency-Key,
ids in the path that nothing can have, and the API's own 404 and 500 answers."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.errors import error_body
from loyalty.api.schema import (
    ScopedAutoSchema,
)
from loyalty.api.serializers.fields import validated
from loyalty.errors import MemberNotFound, OrderNotFound
from loyalty.idempotency import idempotent_call, request_fingerprint
from loyalty.models import Program

# Who may read a member's data (profile, coupons with their codes, tier, badge): never a
# `checkout` key, which validates, redeems and releases codes it is given and nothing more.
READ_MEMBERS = ("orders", "manage")


@csrf_exempt  # it changes nothing; a POST to a mistyped path must not get a CSRF page
def not_found(request: HttpRequest) -> JsonResponse:
    """Unknown paths under the API get the API's error body, whatever the method."""
    body = error_body("not_found", gettext("There is no such API endpoint: %(path)s.")
                      % {"path": request.path})  # fmt: skip
    return JsonResponse(body, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a crash inside the API still answers in its error shape."""
    if request.path.startswith("/api/"):
        body = error_body("server_error", gettext("Something went wrong on our side; "
                          "retry with the same Idempotency-Key."))  # fmt: skip
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


class _Transient(Exception):  # noqa: N818 - a carrier, not an error
    """An answer that must not be kept for the Idempotency-Key (retrying later may succeed)."""

    def __init__(self, response: Response) -> None:
        self.response = response


# Answers that say "not now" rather than "this request's outcome": a retry with the same
# Idempotency-Key runs again instead of replaying them (as 5xx answers, see idempotency).
TRANSIENT_STATUSES = {status.HTTP_429_TOO_MANY_REQUESTS}


class LoyaltyView(APIView):
    """Base view: the caller's program, and writes that honour Idempotency-Key."""

    # HTTP method -> the scopes of which a key needs one (``HasScope``; the schema states it).
    required_scopes: dict[str, tuple[str, ...]] = {}
    schema = ScopedAutoSchema()

    @property
    def program(self) -> Program:
        return self.request.auth.merchant.program  # type: ignore[union-attr]

    def write(self, request: Request, handler: Callable[[], Response]) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler()

        def call() -> tuple[int, Any]:
            try:
                response = handler()
            except Exception as exc:  # noqa: BLE001 - handle_exception re-raises real bugs
                response = self.handle_exception(exc)
            if response.status_code in TRANSIENT_STATUSES:
                raise _Transient(response)  # rolls the key's record back with the write
            return response.status_code, response.data

        fingerprint = request_fingerprint(
            method=request.method or "", path=request.path, body=request.data
        )
        try:
            code, body = idempotent_call(
                merchant=request.auth.merchant,  # type: ignore[union-attr]
                key=key,
                fingerprint=fingerprint,
                call=call,
            )
        except _Transient as transient:
            return transient.response
        return Response(body, status=code)

    @staticmethod
    def valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
        data: dict[str, Any] = validated(serializer_class, request.data)
        return data

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        for value in kwargs.values():
            # The database refuses NUL in text, so no stored id has one: answer "not found"
            # here rather than let the look-up fail with a server error.
            if isinstance(value, str) and "\x00" in value:
                raise self.unknown_path_id(value)

    def unknown_path_id(self, value: str) -> Exception:
        """The error for an id in the path that nothing can have."""
        return NotFound()


class MemberPathView(LoyaltyView):
    """A view under /members/{external_id}."""

    def unknown_path_id(self, value: str) -> Exception:
        return MemberNotFound(external_id=value.replace("\x00", ""))


class OrderPathView(LoyaltyView):
    """A view under /orders/{external_id}."""

    def unknown_path_id(self, value: str) -> Exception:
        return OrderNotFound(external_id=value.replace("\x00", ""))


CURSOR_PARAMETERS = [
    OpenApiParameter(
        "cursor", str, description="The `next` or `previous` link's cursor; none for the newest."
    ),
    OpenApiParameter("limit", int, description="Items a page: 50 by default, at most 200."),
]
