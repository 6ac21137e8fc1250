"""The customer-facing pages of notifications: the one-click unsubscribe link, and the web
push service worker.

The signed token in the link is the authority (RFC 8058): a GET shows a
confirmation page, a POST (the page's button, or a mail client's one-click
request, which carries no CSRF token) turns email consent off. Both are
harmless to repeat. A tampered token changes nothing.
"""

from functools import cache

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.services.templates import language_for
from notifications.services.unsubscribe import member_from_token, member_unsubscribe_email

TEMPLATE = "notifications/unsubscribe.html"
SERVICE_WORKER = "notifications/sw.js"


def _masked(email: str) -> str:
    """``a•••@example.com``: enough for the member to recognise, little for anyone else."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else ""


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    member = member_from_token(token=token)
    if member is None:
        return render(request, TEMPLATE, {"invalid": True}, status=400)
    language = language_for(member.locale)
    with translation.override(language):
        if request.method == "POST":
            member_unsubscribe_email(member=member)
        response = render(
            request,
            TEMPLATE,
            {
                "done": request.method == "POST",
                "merchant_name": member.program.merchant.name,
                "email": _masked(member.email),
                "language": language,
            },
        )
    response["Content-Language"] = language
    return response


@cache
def _service_worker() -> bytes | None:
    found = finders.find(SERVICE_WORKER)
    if not found:
        return None
    with open(found if isinstance(found, str) else found[0], "rb") as source:
        return source.read()


@require_http_methods(["GET", "HEAD"])
def push_service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, from a path of ours rather than /static/: with
    ``Service-Worker-Allowed: /`` it may control every page of the site, and its URL
    stays the same across deployments (browsers check it for updates)."""
    script = _service_worker()
    if script is None:
        raise Http404("service worker missing")
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
