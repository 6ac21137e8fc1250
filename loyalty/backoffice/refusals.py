"""The page an admin or backoffice view answers with when it refuses: the admin's frame,
what happened in a sentence, and the way back (``LoyaltyAdminSite.admin_view`` sends every
refusal here, so no staff user meets a bare "403 Forbidden")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

TITLES = {
    400: _("This request could not be understood"),
    403: _("You may not do this"),
    404: _("Not found"),
}
EXPLANATIONS = {
    400: _("Something in the address or the form was not what this page expects."),
    403: _(
        "Your role does not allow this page or action. A manager of your merchant can do it, "
        "or give you the role that may."
    ),
    404: _("This page does not exist, or it belongs to another merchant."),
}


def _back_url(request: HttpRequest, *, same: bool = False) -> str:
    """Where the user came from, if it is this site (the refusing page itself only when
    ``same``: going back to it shows its form afresh); else the backoffice's home."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        if same or referer != request.build_absolute_uri():
            return referer
    return reverse("admin:index")


def refusal_page(
    request: HttpRequest,
    context: dict[str, Any],
    *,
    status: int,
    title: str | Promise | None = None,
    explanation: str | Promise | None = None,
    advice: Sequence[str | Promise] = (),
) -> TemplateResponse:
    """The refusal in the admin's frame: the status's own title and sentence unless given
    (a refused form's CSRF check has its own), and what to do, a step a line (then "Back"
    leads to the page the form was on, even when it sent the form to itself)."""
    response = TemplateResponse(
        request,
        "admin/refused.html",
        {
            **context,
            "title": title or TITLES[status],
            "explanation": explanation or EXPLANATIONS[status],
            "advice": advice,
            "status": status,
            "back_url": _back_url(request, same=bool(advice)),
            "home_url": reverse("admin:index"),
        },
        status=status,
    )
    return response
