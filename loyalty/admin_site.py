"""The admin's sign-in: a password limited per user and address, and a second factor.

Invariants:
- Wrong passwords are counted by django-axes per username and client address together
  (settings: ``AXES_*``); a locked-out pair gets the lockout page in the admin's look, even
  with the right password, until the cool-off has passed.
- A staff user with a confirmed authenticator (``loyalty.services.two_factor``) signs in only
  with its current code; a missing, wrong or already used code is refused and counted as a
  failed sign-in. Such a user's session is in the admin only once it gave a code.
- With ``ADMIN_2FA_REQUIRED`` a staff user without an authenticator reaches nothing of the
  admin but the page that sets one up (and signing out).
- Every list of the admin, those of other apps too (django-axes'), answers a filter in the
  address it cannot use with a message, never a server error (``CheckedChangeList``).
- "View site" leads a merchant's staff user to their customers' sign-in page; a page of the
  admin that refuses (403, 404, 400) answers with the admin's own look and a way back
  (``refusal_page``), every model admin's and backoffice page's alike.
"""

from __future__ import annotations

from functools import update_wrapper
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login

from loyalty.backoffice.params import CheckedChangeList
from loyalty.backoffice.refusals import refusal_page
from loyalty.backoffice.scope import staff_program
from loyalty.errors import LoyaltyError, TwoFactorCodeInvalid
from loyalty.models import User
from loyalty.services.two_factor import (
    totp_device,
    totp_enrolment_confirm,
    totp_enrolment_start,
    totp_remove,
    totp_secret,
    totp_verify,
    two_factor_enrolled,
    two_factor_must_enrol,
)

CODE_WIDGET = forms.TextInput(
    attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
)


def _staff(request: HttpRequest) -> User | None:
    user = request.user
    if isinstance(user, User) and user.is_active and user.is_staff:
        return user
    return None


def _verified(request: HttpRequest) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin sign-in, plus the authenticator code of users who set one up."""

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        max_length=16,
        widget=CODE_WIDGET,
        help_text=_("Only if you set up two-factor authentication: the code your app shows."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # the password (django-axes refuses a locked-out pair)
        user = self.get_user()
        if user is None or not two_factor_enrolled(user=user):
            return cleaned
        try:
            device = totp_verify(user=user, token=cleaned.get("otp_token") or "")
        except TwoFactorCodeInvalid as error:
            # Counted like a wrong password: a stolen password gets only so many code guesses.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": cleaned.get("username")},
                request=self.request,
            )
            raise ValidationError(error.detail, code=error.code) from error
        # django-otp marks the session verified when the login completes (user_logged_in).
        user.otp_device = device  # type: ignore[attr-defined]
        return cleaned


class CodeForm(forms.Form):
    token = forms.CharField(label=_("Code"), max_length=16, widget=CODE_WIDGET)


class _CheckedLists:
    """A ModelAdmin whose list is a ``CheckedChangeList`` (its own list class kept under it)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        base: type[ChangeList] = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        if issubclass(base, CheckedChangeList):
            return base
        return type(f"Checked{base.__name__}", (CheckedChangeList, base), {})


class LoyaltyAdminSite(admin.AdminSite):
    login_form = AdminLoginForm
    login_template = "admin/login.html"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every ModelAdmin registered here lists through ``CheckedChangeList``."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, _CheckedLists):
            admin_class = type(admin_class.__name__, (_CheckedLists, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["site_url"] = self._site_url(request)
        return context

    @staticmethod
    def _site_url(request: HttpRequest) -> str | None:
        """A merchant's staff user's "View site": the page where their customers sign in.
        None (no link) for a user of no merchant: there is no one site to show them."""
        program = staff_program(request)  # read once per request, with its merchant
        if program is None:
            return None
        return reverse("profile:sign-in", args=[program.merchant.slug])

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Django's guard (sign-in, CSRF, no cache), with refusals in the admin's look."""

        def refusing(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                return refusal_page(request, self.each_context(request), status=403)
            except Http404:
                return refusal_page(request, self.each_context(request), status=404)
            except BadRequest:
                return refusal_page(request, self.each_context(request), status=400)

        return super().admin_view(update_wrapper(refusing, view), cacheable)

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        # Asked several times a page: the answer is kept on the request (one query at most).
        allowed = getattr(request, "_two_factor_allowed", None)
        if allowed is None:
            allowed = self._two_factor_allowed(request)
            request._two_factor_allowed = allowed  # type: ignore[attr-defined]
        return allowed

    @staticmethod
    def _two_factor_allowed(request: HttpRequest) -> bool:
        if _verified(request):
            return True
        user = _staff(request)
        # A user with an authenticator must have given its code in this session.
        if user is None or two_factor_enrolled(user=user):
            return False
        return not settings.ADMIN_2FA_REQUIRED

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        user = _staff(request)
        if request.method == "GET" and user is not None and two_factor_must_enrol(user=user):
            return redirect("admin:two_factor")
        return super().login(request, extra_context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [
            path("two-factor/", self.two_factor_view, name="two_factor"),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)  # the page shows a secret
    @method_decorator(csrf_protect)
    def two_factor_view(self, request: HttpRequest) -> HttpResponseBase:
        """Set up, see or turn off the signed-in staff user's authenticator."""
        user = _staff(request)
        if user is None:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        device = totp_device(user=user)
        if device is not None and not _verified(request):
            # Signed in before the authenticator was added: sign in again, with its code.
            logout(request)
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        form = CodeForm(request.POST if request.method == "POST" else None)
        action = request.POST.get("action")
        if action == "sign_out":
            logout(request)
            return redirect("admin:login")
        if action in ("confirm", "remove") and form.is_valid():
            token = form.cleaned_data["token"]
            try:
                if action == "confirm":
                    # This session gave the code: it is verified from now on.
                    otp_login(request, totp_enrolment_confirm(user=user, token=token))
                    messages.success(request, _("Two-factor authentication is on."))
                    return redirect("admin:index")
                totp_remove(user=user, token=token)
                messages.success(request, _("Two-factor authentication is off."))
                return redirect("admin:two_factor")
            except LoyaltyError as error:
                form.add_error("token", error.detail)
        context: dict[str, Any] = {
            **self.each_context(request),
            "title": _("Two-factor authentication"),
            "form": form,
            "device": device,
            "required": settings.ADMIN_2FA_REQUIRED,
            "must_enrol": device is None and settings.ADMIN_2FA_REQUIRED,
            "is_nav_sidebar_enabled": False,
        }
        if device is None:
            pending = totp_enrolment_start(user=user)
            uri = pending.config_url
            context.update(
                uri=uri,
                secret=totp_secret(pending),
                # Drawn here, as SVG: the secret goes to no QR-code service.
                qr_svg=mark_safe(  # noqa: S308 (segno's own markup of the URI)
                    segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=True)
                ),
            )
        return render(request, "admin/two_factor.html", context)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in: the admin's look, 429."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **admin.site.each_context(request),
        "title": _("Too many failed sign-ins"),
        "cooloff_minutes": minutes,
        "is_nav_sidebar_enabled": False,
    }
    return render(request, "admin/login_locked.html", context, status=429)
