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


class HasScope(BasePermission):
    """The view's ``required_scopes`` maps HTTP methods to the scopes that may call them.

    A key needs any one of the listed scopes; a view without the mapping for a
    method refuses it.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated(
                _("Send your API key as 'Authorization: Bearer <key>'.")
            )
        method = (request.method or "").lower()
        if method == "options" or not hasattr(view, method):
            return True  # OPTIONS describes the endpoint; a method it lacks is a 405, not a 403
        allowed = getattr(view, "required_scopes", {}).get(request.method, ())
        if not set(allowed) & set(key.scopes):
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope this call needs: %(scopes)s.")
                % {"scopes": " or ".join(allowed) or "-"}
            )
        return True
