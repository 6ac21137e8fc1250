"""Public pages of the loyalty app (no login): the member's badge card."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_safe

from loyalty.selectors.tiers import badge_card, badge_card_member


@require_safe
def badge_card_view(request: HttpRequest, token: str) -> HttpResponse:
    """The card a shop shows to others: tier, orders, member since. An unknown token and a
    card the member turned off are the same 404, so tokens cannot be probed."""
    member = badge_card_member(token=token)
    if member is None:
        raise Http404
    card = badge_card(member=member)
    response = render(
        request,
        "loyalty/badge_card.html",
        {"card": card, "lang": translation.get_language()},
    )
    # Cards are public but personal: no search engine indexes them, nobody frames them.
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
