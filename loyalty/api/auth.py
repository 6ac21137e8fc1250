"""Bearer API keys with scopes. A key sees only its merchant's data."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from loyalty.models import ApiKey
from loyalty.services.api_keys import api_key_authenticate


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Bearer <key>'.")
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("This API key is not valid.")) from exc
        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid or was revoked."))
        return None, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def scopes_required(view: Any, method: str) -> tuple[str, ...]:
    """The scopes of which a key needs any one to call ``method`` on ``view``.

    The one declaration of who may call what: the view's ``required_scopes`` (HTTP
    method -> scopes). ``HasScope`` enforces it and the OpenAPI schema states it
    (``loyalty.api.schema``), so the documentation cannot drift from the check.
    """
    return tuple(getattr(view, "required_scopes", {}).get(method.upper(), ()))


class HasScope(BasePermission):
    """A key needs any one of the scopes ``scopes_required`` names for the view and method;
    a view without the mapping for a method refuses it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated(
                _("Send your API key as 'Authorization: Bearer <key>'.")
            )
        method = (request.method or "").lower()
        if method == "options" or not hasattr(view, method):
            return True  # OPTIONS describes the endpoint; a method it lacks is a 405, not a 403
        allowed = scopes_required(view, method)
        if not set(allowed) & set(key.scopes):
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope this call needs: %(scopes)s.")
                % {"scopes": " or ".join(allowed) or "-"}
            )
        return True
