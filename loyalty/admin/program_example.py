"""The program page's live example: what an order of some amount earns a customer of some
tier under the program's rules, with the earn rate and the tiers' multipliers as the page
shows them (saved or not). A small HTML fragment for the page's script; staff-only, and a
program outside the staff member's merchant is "not found" (the admin's scoped queryset).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from loyalty.errors import LoyaltyError
from loyalty.services.quote_example import earning_example

# The program's settings the page may lay over the saved ones ("on": ticked).
TYPED_SETTINGS = ("earn_rate",)
TYPED_FLAGS = ("earn_on_discount", "earn_on_shipping", "earn_on_tax", "earn_on_gift_card")


def typed_settings(query: Any) -> dict[str, Any]:
    """The settings the page sent (only those it sent: the rest stay as saved)."""
    settings: dict[str, Any] = {n: query[n] for n in TYPED_SETTINGS if query.get(n, "") != ""}
    settings.update({n: query[n] == "on" for n in TYPED_FLAGS if n in query})
    return settings


def example_view(admin: Any, request: HttpRequest, object_id: str) -> HttpResponse:
    """``GET ?amount=50&tier=Gold&tier_multiplier=1.1&earn_rate=10``: the example."""
    program = admin.get_object(request, object_id)
    if program is None or not admin.has_view_permission(request, program):
        raise Http404
    query = request.GET
    context: dict[str, Any] = {"errors": None, "example": None}
    try:
        context["example"] = earning_example(
            program=program,
            amount=query.get("amount", ""),
            tier=query.get("tier", "")[:100],
            tier_multiplier=query.get("tier_multiplier"),
            settings=typed_settings(query),
        )
    except LoyaltyError as exc:
        fields = getattr(exc, "fields", None)
        context["errors"] = [m for ms in fields.values() for m in ms] if fields else [exc.detail]
    response = TemplateResponse(request, "admin/loyalty/program/example.html", context)
    response.status_code = 200 if context["errors"] is None else 400
    return response
