"""Signing in to the profile page and out of it: the shop's sign-in page and its emailed
link (confirmed with a POST, as mail scanners open links), the shop's deep link, a member's
referral invite, sign-out. Nothing here shows a member's data."""

from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from loyalty.clientip import client_ip
from loyalty.errors import LoyaltyError, SignInLinkInvalid, SignInRateLimited
from loyalty.models import Merchant
from loyalty.profile.auth import session_login, session_logout, session_member
from loyalty.profile.explain import referral_offer
from loyalty.profile.pages import MERCHANT_KEY, activate_language, render_page
from loyalty.services.profile_access import (
    profile_link_use,
    signin_email_check,
    signin_email_use,
    signin_rate_check,
)
from loyalty.tasks import profile_sign_in_email


@never_cache
@require_GET
def merchant_home(request: HttpRequest, slug: str) -> HttpResponse:
    """The link in emails: the page if signed in to this shop, else its sign-in."""
    member = session_member(request)
    if member is not None and member.program.merchant.slug == slug:
        return redirect("profile:home")
    return redirect("profile:sign-in", slug=slug)


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, slug: str) -> HttpResponse:
    merchant = get_object_or_404(Merchant.objects.select_related("program"), slug=slug)
    request.session[MERCHANT_KEY] = merchant.slug
    member = session_member(request)
    if member is not None and member.program.merchant_id == merchant.pk:
        return redirect("profile:home")
    language = activate_language(request, None)
    form = SignInForm(request.POST or None)
    context: dict[str, Any] = {"merchant": merchant, "form": form}
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            signin_rate_check(merchant=merchant, email=email, ip=client_ip(request))
        except SignInRateLimited as exc:
            context["error"] = exc.detail
            response = render_page(request, "profile/sign_in.html", context, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        # The same answer whether or not the address is a member's; the email (if any)
        # is sent off the request, so not even the time it takes tells.
        profile_sign_in_email.delay(merchant.program.pk, email, language)
        context.update(sent=True, email=email, minutes=settings.PROFILE_EMAIL_LINK_MINUTES)
    return render_page(request, "profile/sign_in.html", context, status=400 if form.errors else 200)


def _invalid_link(
    request: HttpRequest, merchant: Merchant | None, exc: LoyaltyError
) -> HttpResponse:
    return render_page(
        request,
        "profile/link_invalid.html",
        {"merchant": merchant, "detail": exc.detail},
        status=400,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def email_link(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners that open links must not spend them); POST signs in."""
    merchant = get_object_or_404(Merchant, slug=slug)
    request.session[MERCHANT_KEY] = merchant.slug
    try:
        if request.method == "POST":
            member = signin_email_use(merchant=merchant, secret=token)
            session_login(request, member)
            return redirect("profile:home")
        member = signin_email_check(merchant=merchant, secret=token)
    except SignInLinkInvalid as exc:
        activate_language(request, None)
        return _invalid_link(request, merchant, exc)
    activate_language(request, member)
    # Not signed in yet: the page offers signing in, never "Sign out" (base.html shows it
    # for a ``member`` in the context).
    return render_page(request, "profile/confirm.html", {"merchant": merchant})


@require_GET
def invite(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    """A member's referral link: what the friend gets and the code to give the shop. It
    shows only what the link carries and the program's offer (no member is looked up, so
    it tells nobody whether a code belongs to a member)."""
    merchant = get_object_or_404(Merchant.objects.select_related("program"), slug=slug)
    activate_language(request, None)
    offer = referral_offer(merchant.program)
    if offer is None or len(code) > 191:
        raise Http404
    context = {"merchant": merchant, "code": code, "offer": offer}
    return render_page(request, "profile/invite.html", context)


@never_cache
@require_GET
def deep_link(request: HttpRequest, token: str) -> HttpResponse:
    """A shop's deep link signs its customer straight in."""
    try:
        member = profile_link_use(token=token)
    except SignInLinkInvalid as exc:
        activate_language(request, None)
        return _invalid_link(request, None, exc)
    session_login(request, member)
    request.session[MERCHANT_KEY] = member.program.merchant.slug
    return redirect("profile:home")


@never_cache
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    session_logout(request)
    return redirect("profile:home")
