"""A customer's form refused by the CSRF check (``loyalty.csrf``): the profile page's look,
with the shop's name and colours where the request names the shop (the signed-in member's,
the sign-in page's address, or the shop last visited), in the member's language (else the
browser's)."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme

from loyalty.models import Member, Merchant
from loyalty.profile.auth import session_member
from loyalty.profile.pages import MERCHANT_KEY, activate_language, render_page

# The JSON error's code, as the profile's other JSON answers carry one (``not_signed_in``).
CODE = "csrf_failed"


def _merchant(request: HttpRequest, member: Member | None) -> Merchant | None:
    if member is not None:
        return member.program.merchant
    try:
        slug = resolve(request.path_info).kwargs.get("slug")
    except Resolver404:
        slug = None
    slug = slug or request.session.get(MERCHANT_KEY)
    return Merchant.objects.filter(slug=slug).first() if slug else None


def _back_url(request: HttpRequest, merchant: Merchant | None) -> str:
    """The page the form was on (this site's own), else the shop's sign-in or the profile."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    if merchant is not None:
        return reverse("profile:sign-in", args=[merchant.slug])
    return reverse("profile:home")


def csrf_refused(
    request: HttpRequest,
    *,
    title: str | Promise,
    explanation: str | Promise,
    advice: Sequence[str | Promise],
    debug_reason: str,
) -> HttpResponse:
    """403: what happened and what to do, on the profile's page or as the JSON error body."""
    member = session_member(request)
    activate_language(request, member)
    if request.content_type == "application/json" or "json" in request.headers.get("accept", ""):
        detail = " ".join([str(title) + ".", *map(str, advice)])
        return JsonResponse({"code": CODE, "detail": detail}, status=403)
    merchant = _merchant(request, member)
    context = {
        "merchant": merchant,
        "member": member,
        "title": title,
        "explanation": explanation,
        "advice": advice,
        "back_url": _back_url(request, merchant),
        "debug_reason": debug_reason,
    }
    return render_page(request, "profile/csrf_failed.html", context, status=403)
