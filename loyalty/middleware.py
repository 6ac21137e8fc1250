"""Django's and django-csp's middleware, trimmed for the requests that do not need all of it.

The browser-session middleware is left out where no browser session is used.

The integrator API (``/api/v1/``) knows its caller by the bearer key of each
request, and the probes (``/healthz``, ``/readyz``, ``/metrics``) need nobody;
none of them reads a session, a signed-in user or messages. Those middleware
would still make a session store, a lazy user and a message store for each of
their calls, and change nothing in the answer (a session that is not used sets
no cookie and no ``Vary: Cookie``). So on these paths they step aside; the
admin, the back office and the profile pages get them as before. The security,
locale (the API's ``detail`` follows Accept-Language), CSRF and clickjacking
middleware run everywhere; the Content-Security-Policy header of a response that is
nobody's special case is built once (``CSPMiddleware``).
"""

from functools import cache
from typing import Any

from csp import middleware as csp
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
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


# Responses whose policy is their own: a view decorated by django-csp, or an exempt one.
_OWN_POLICY = frozenset(
    f"_csp_{name}{suffix}"
    for name in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)


class CSPMiddleware(csp.CSPMiddleware):
    """django-csp's, with the policy of a response that asked for no nonce and has no policy
    of its own built once, not for every response: every API answer and probe is such a
    response, and building the header was a tenth of a ``GET /healthz``'s instructions.
    Anything else (a page with a nonce, a decorated view, DEBUG's error pages) takes
    django-csp's own path."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> Any:
        if (
            getattr(request, "_csp_nonce", None) is not None
            or not _OWN_POLICY.isdisjoint(vars(response))
            or (settings.DEBUG and response.status_code in (404, 500))
            or getattr(settings, "CONTENT_SECURITY_POLICY", {}).get("EXCLUDE_URL_PREFIXES")
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        ):
            return super().process_response(request, response)
        policy = _plain_policy()
        if policy and csp.HEADER not in response:
            response[csp.HEADER] = policy
        # As django-csp does: asking for a nonce once the header is written is an error.
        request.csp_nonce = csp.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


@cache
def _plain_policy() -> str:
    """The header of a response with no nonce and no policy of its own ("" for none)."""
    return build_policy()


@receiver(setting_changed)
def _policy_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _plain_policy.cache_clear()
