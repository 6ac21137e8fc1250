"""What every profile view shares: the language it speaks (the member's, else the
browser's), the page around it (the language switcher, ``Content-Language``), and the
guard of the views that need a signed-in member."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from loyalty.models import Member
from loyalty.profile.auth import session_member

LANGUAGES = [code for code, _name in settings.LANGUAGES]
# Remembered after sign-out, so /profile/ can send the visitor to their shop's sign-in.
MERCHANT_KEY = "profile_merchant_slug"


def language_for_request(request: HttpRequest, member: Member | None) -> str:
    """The member's own language first, then the browser's (LocaleMiddleware's choice)."""
    if member is not None:
        code = (member.locale or "").replace("_", "-").split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return translation.get_language_from_request(request)


def activate_language(request: HttpRequest, member: Member | None) -> str:
    language = language_for_request(request, member)
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context.setdefault("merchant", None)
    context.setdefault(
        "languages", [(code, translation.get_language_info(code)) for code in LANGUAGES]
    )
    response = render(request, template, context, status=status)
    response["Content-Language"] = translation.get_language()
    return response


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Views of a signed-in member: ``view(request, member, ...)``. Others are sent to the
    sign-in (or get 401 for JSON)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = session_member(request)
        activate_language(request, member)
        if member is None:
            if request.content_type == "application/json":
                return JsonResponse(
                    {"code": "not_signed_in", "detail": _("Please sign in.")}, status=401
                )
            return redirect("profile:home")
        return view(request, member, *args, **kwargs)

    return never_cache(wrapped)
