"""The customer's profile page and what a signed-in member does there (signing in is in
``sign_in_views``).

Every view that shows or changes data works on ``session_member(request)`` only:
no URL or form field names a member, so changing one gets nobody else's data.
Views parse, call one service or selector, and render.
"""

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from loyalty.clientip import client_ip
from loyalty.errors import (
    IdempotencyConflict,
    LoyaltyError,
    TransferRateLimited,
    TransfersDisabled,
)
from loyalty.forms import FeedbackForm, TransferForm, add_service_error
from loyalty.models import Member, Merchant
from loyalty.profile.auth import session_member
from loyalty.profile.keyset import cursor
from loyalty.profile.pages import (
    LANGUAGES,
    MERCHANT_KEY,
    activate_language,
    member_required,
    render_page,
)
from loyalty.profile.selectors import coupons_page, profile_page
from loyalty.services.conversion import reward_claim
from loyalty.services.feedback import feedback_submit
from loyalty.services.members import member_email_consent_set, member_locale_set
from loyalty.services.tiers import badge_card_toggle
from loyalty.services.transfers import transfer_create, transfer_rate_check
from loyalty.templatetags.profile_format import points as format_points
from notifications.services import push


def _push_public_key() -> str | None:
    """The VAPID key when web push is configured; else None (no toggle)."""
    return push.push_public_key() or None


@never_cache
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    member = session_member(request)
    language = activate_language(request, member)
    if member is None:
        slug = request.session.get(MERCHANT_KEY)
        if slug and Merchant.objects.filter(slug=slug).exists():
            return redirect("profile:sign-in", slug=slug)
        return render_page(request, "profile/signed_out.html", {})
    return _profile(request, member, language)


def _profile(
    request: HttpRequest,
    member: Member,
    language: str,
    *,
    transfer_form: TransferForm | None = None,
    feedback_form: FeedbackForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page; a refused form is shown again with its errors (``status`` 400)."""
    program = member.program
    context = profile_page(
        member=member,
        before=cursor(request.GET.get("before")),
        after=cursor(request.GET.get("after")),
        language=language,
    )
    badge_token = context["badge"]["token"]
    context.update(
        claim_confirm=_claim_confirm(context["reward_options"], request.GET.get("claim"), member),
        member=member,
        merchant=program.merchant,
        program=program,
        push_key=_push_public_key(),
        # A fresh key on every page load: the same form sent twice transfers once.
        transfer_form=transfer_form or TransferForm(initial={"key": uuid.uuid4().hex}),
        transfer_url=reverse("profile:transfer"),
        feedback_form=feedback_form or FeedbackForm(),
        feedback_url=reverse("profile:feedback"),
        badge_url=(
            request.build_absolute_uri(reverse("badge-card", args=[badge_token]))
            if badge_token
            else None
        ),
        referral_url=(
            request.build_absolute_uri(
                reverse("profile:invite", args=[program.merchant.slug, member.external_id])
            )
            if context["how"].referral
            else None
        ),
    )
    return render_page(request, "profile/page.html", context, status=status)


@member_required
@require_GET
def coupons(request: HttpRequest, member: Member) -> HttpResponse:
    """All the member's coupons, usable ones or (``?past=1``) those it can no longer use."""
    page = coupons_page(
        member=member,
        past=request.GET.get("past") == "1",
        before=cursor(request.GET.get("before")),
        after=cursor(request.GET.get("after")),
        language=translation.get_language(),
    )
    context = {"page": page, "member": member, "merchant": member.program.merchant}
    return render_page(request, "profile/coupons.html", context)


def _claim_confirm(options: list[Any], asked: Any, member: Member) -> dict[str, Any] | None:
    """The reward the member asked to claim (``?claim=<points>``), if it can be claimed."""
    points = cursor(asked)
    found = next((o for o in options if o.points == points and o.claimable), None)
    if found is None:
        return None
    return {
        "points": found.points,
        "terms": found.terms,
        "name": found.name,
        "balance_after": member.balance - found.points,
    }


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("profile:home")
    return HttpResponseRedirect(target)


@never_cache
@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The language switcher: remembered for the member (emails too) and in a cookie."""
    code = request.POST.get("language", "")
    response = _back(request)
    if code not in LANGUAGES:
        return response
    member = session_member(request)
    if member is not None:
        member_locale_set(member=member, locale=code)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


@require_POST
@member_required
def notification_settings(request: HttpRequest, member: Member) -> HttpResponse:
    consent = request.POST.get("email") == "on"
    member_email_consent_set(member=member, consent=consent)
    messages.success(
        request,
        _("You will get emails about your points and rewards.")
        if consent
        else _("You will no longer get emails about your points and rewards."),
    )
    return redirect(reverse("profile:home") + "#notifications")


@require_POST
@member_required
def claim(request: HttpRequest, member: Member) -> HttpResponse:
    """Claim a reward, once the member confirmed it (the page's confirmation posts
    ``confirmed=yes``); anything else only shows the confirmation: a tap never spends."""
    if request.POST.get("confirmed") != "yes":
        threshold = request.POST.get("threshold", "")
        return redirect(reverse("profile:home") + f"?claim={cursor(threshold) or ''}#rewards")
    try:
        points = int(request.POST.get("threshold", ""))
        coupon = reward_claim(
            program=member.program, member_external_id=member.external_id, points=points
        )
    except ValueError:
        messages.error(request, _("Choose a reward to claim."))
    except LoyaltyError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, _("Your coupon %(code)s is ready to use.") % {"code": coupon.display_code}
        )
    # The message is at the top of the page: the page opens there, not at the coupons.
    return redirect(reverse("profile:home") + "#messages")


# Where a transfer's refusal is shown: next to the field it is about, else above the form.
TRANSFER_ERROR_FIELDS = {"insufficient_points": "points", "transfer_limit_exceeded": "points"}


@require_POST
@member_required
def transfer(request: HttpRequest, member: Member) -> HttpResponse:
    """Give points to another member. The sender is always the signed-in member: the form
    names only the recipient."""
    program = member.program
    if not program.transfers_enabled:
        messages.error(request, TransfersDisabled().detail)
        return redirect("profile:home")
    form = TransferForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            transfer_rate_check(member=member, ip=client_ip(request))
        except TransferRateLimited as exc:
            form.add_error(None, exc.detail)
            language = translation.get_language()
            response = _profile(request, member, language, transfer_form=form, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        try:
            result = transfer_create(
                program=program,
                sender_external_id=member.external_id,
                recipient_external_id=data["to"].strip(),
                points=data["points"],
                note=data["note"],
                key=data["key"],
            )
        except IdempotencyConflict:
            # The key of a form already sent, with other data (back button, then edited).
            form.add_error(None, _("This form was already sent. Reload the page to give again."))
        except LoyaltyError as exc:
            add_service_error(form, exc, TRANSFER_ERROR_FIELDS)
        else:
            messages.success(
                request,
                ngettext(
                    "You gave %(points)s point to %(to)s. Your balance is now %(balance)s.",
                    "You gave %(points)s points to %(to)s. Your balance is now %(balance)s.",
                    result.transfer.points,
                )
                % {
                    "points": format_points(result.transfer.points),
                    "to": data["to"].strip(),
                    "balance": format_points(result.sender_balance),
                },
            )
            return redirect(reverse("profile:home") + "#transfer")
    language = translation.get_language()
    return _profile(request, member, language, transfer_form=form, status=400)


@require_POST
@member_required
def feedback(request: HttpRequest, member: Member) -> HttpResponse:
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            feedback_submit(
                member=member,
                rating=form.cleaned_data["rating"],
                wanted_rewards=form.cleaned_data["wanted_rewards"],
            )
        except LoyaltyError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, _("Thank you for your feedback!"))
            return redirect(reverse("profile:home") + "#feedback")
    language = translation.get_language()
    return _profile(request, member, language, feedback_form=form, status=400)


@require_POST
@member_required
def badge(request: HttpRequest, member: Member) -> HttpResponse:
    """Turn the member's public badge card on (``enabled=on``) or off (anything else)."""
    enabled = request.POST.get("enabled") == "on"
    try:
        badge_card_toggle(member=member, enabled=enabled)
    except LoyaltyError as exc:
        messages.error(request, exc.detail)
        return redirect(reverse("profile:home") + "#badge")
    messages.success(
        request,
        _("Your badge card is on: anyone with its link can see it.")
        if enabled
        else _("Your badge card is off: its link shows nothing."),
    )
    return redirect(reverse("profile:home") + "#badge")


def _push_call(request: HttpRequest, member: Member, name: str) -> HttpResponse:
    if not push.push_enabled():
        return JsonResponse(
            {"code": "push_unavailable", "detail": _("Push notifications are not available.")},
            status=404,
        )
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return JsonResponse(
            {"code": "validation_error", "detail": _("Send a JSON object.")}, status=400
        )
    try:
        if name == "subscribe":
            push.push_subscribe(
                member=member,
                subscription=body,
                user_agent=request.headers.get("User-Agent", "")[:300],
            )
            return JsonResponse({"subscribed": True})
        push.push_unsubscribe(member=member, endpoint=str(body.get("endpoint", "")))
    except LoyaltyError as exc:
        payload: dict[str, Any] = {"code": exc.code, "detail": exc.detail}
        if getattr(exc, "fields", None):
            payload["fields"] = exc.fields  # type: ignore[attr-defined]
        return JsonResponse(payload, status=exc.status)
    return JsonResponse({"subscribed": False})


@require_POST
@member_required
def push_subscribe(request: HttpRequest, member: Member) -> HttpResponse:
    return _push_call(request, member, "subscribe")


@require_POST
@member_required
def push_unsubscribe(request: HttpRequest, member: Member) -> HttpResponse:
    return _push_call(request, member, "unsubscribe")
