"""A form refused by Django's CSRF check (``CSRF_FAILURE_VIEW``): a page in the look of where
it was sent from, in the user's language, saying what happened and what to do.

- ``/admin/`` (the backoffice): the admin's refusal page (``refusal_page``), in the staff
  member's language (``LocaleMiddleware``'s choice, as every admin page).
- Anything else is a customer's page (the profile, its sign-in, unsubscribing): the profile
  page's look with the merchant's colours, in the member's language
  (``loyalty.profile.refusals.csrf_refused``); a JSON request (the push toggle) gets the
  error body ``{"code": "csrf_failed", "detail"}`` that its script shows.

Nothing was done: the view that would have handled the form never ran. With ``DEBUG`` on the
page adds Django's own reason, for the developer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from loyalty.backoffice.refusals import refusal_page
from loyalty.profile.refusals import csrf_refused

TITLE = _("This form could not be sent")
EXPLANATION = _(
    "Nothing was changed. For your security, this site accepts a form only together with "
    "the security cookie it set when it showed the page, and this one was missing or out "
    "of date: the page was perhaps open for a long time, or you signed in or out in "
    "another tab."
)
RELOAD = _("Go back, reload the page and send the form again.")
COOKIES = _("If it happens again, make sure your browser accepts cookies from this site.")
# A request without the cookie at all: cookies are the likely cause, so they come first.
COOKIES_FIRST = _(
    "Your browser sent no cookie from this site: allow cookies for this site, then reload "
    "the page and send the form again."
)
ADMIN_PREFIX = "/admin/"


def advice(reason: str) -> list[Promise]:
    """What to do, a step a line (lazy: in the language of the page that shows it)."""
    if reason == REASON_NO_CSRF_COOKIE:
        return [COOKIES_FIRST]
    return [RELOAD, COOKIES]


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the refusal (403) in the look of the page that sent the form."""
    if request.path_info.startswith(ADMIN_PREFIX):
        context = admin.site.each_context(request)
        # Before signing in (the sign-in form itself) there is no menu to show, not even
        # its "You don't have permission" line.
        context["is_nav_sidebar_enabled"] &= bool(context.get("has_permission"))
        if settings.DEBUG:
            context["debug_reason"] = reason
        return refusal_page(
            request,
            context,
            status=403,
            title=TITLE,
            explanation=EXPLANATION,
            advice=advice(reason),
        )
    # The words are lazy: the profile shows them in the language it chooses (the member's).
    return csrf_refused(
        request,
        title=TITLE,
        explanation=EXPLANATION,
        advice=advice(reason),
        debug_reason=reason if settings.DEBUG else "",
    )
