"""The browser-session middleware, left out where no browser session is used.

The integrator API (``/api/v1/``) knows its caller by the bearer key of each
request, and the probes (``/healthz``, ``/readyz``, ``/metrics``) need nobody;
none of them reads a session, a signed-in user or messages. Those middleware
would still make a session store, a lazy user and a message store for each of
their calls, and change nothing in the answer (a session that is not used sets
no cookie and no ``Vary: Cookie``). So on these paths they step aside; the
admin, the back office and the profile pages get them as before. The security,
locale (the API's ``detail`` follows Accept-Language), CSRF and clickjacking
middleware run everywhere.
"""

from typing import Any

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.utils.deprecation import MiddlewareMixin

API_PREFIX = "/api/v1/"
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def sessionless(path: str) -> bool:
    """Whether a request to ``path`` goes without session, user and messages."""
    return path.startswith(API_PREFIX) or path in PROBES


class _SkippedWhenSessionless(MiddlewareMixin):
    def __call__(self, request: HttpRequest) -> Any:
        if sessionless(request.path_info):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_SkippedWhenSessionless, sessions.SessionMiddleware):
    """Django's, except for the API and the probes."""


class AuthenticationMiddleware(_SkippedWhenSessionless, auth.AuthenticationMiddleware):
    """Django's, except for the API and the probes."""


class MessageMiddleware(_SkippedWhenSessionless, messages.MessageMiddleware):
    """Django's, except for the API and the probes."""
