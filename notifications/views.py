"""The customer-facing pages of notifications: the one-click unsubscribe link.

The signed token in the link is the authority (RFC 8058): a GET shows a
confirmation page, a POST (the page's button, or a mail client's one-click
request, which carries no CSRF token) turns email consent off. Both are
harmless to repeat. A tampered token changes nothing.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.services.templates import language_for
from notifications.services.unsubscribe import member_from_token, member_unsubscribe_email

TEMPLATE = "notifications/unsubscribe.html"


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
