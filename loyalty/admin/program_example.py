"""The builder's live example: what an order of some amount earns a customer of some tier
under the program's rules. On the program page, with the earn rate and the tiers' multipliers
as the page shows them (saved or not); on an earning rule's or a campaign's page, with that
rule or campaign as its form holds it, unsaved (``draft_example_view``). A small HTML fragment
for the page's script; staff-only, and what lies outside the staff member's merchant is "not
found" (the admin's scoped queryset). Nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from loyalty.backoffice.scope import staff_program
from loyalty.errors import LoyaltyError
from loyalty.models import Campaign, EarningRule, Program
from loyalty.services.quote_example import earning_example

# The program's settings the page may lay over the saved ones ("on": ticked).
TYPED_SETTINGS = ("earn_rate",)
TYPED_FLAGS = ("earn_on_discount", "earn_on_shipping", "earn_on_tax", "earn_on_gift_card")


def typed_settings(query: Any) -> dict[str, Any]:
    """The settings the page sent (only those it sent: the rest stay as saved)."""
    settings: dict[str, Any] = {n: query[n] for n in TYPED_SETTINGS if query.get(n, "") != ""}
    settings.update({n: query[n] == "on" for n in TYPED_FLAGS if n in query})
    return settings


def _response(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    response = TemplateResponse(request, "admin/loyalty/program/example.html", context)
    response.status_code = 200 if context["errors"] is None else 400
    return response


def _messages(exc: LoyaltyError) -> list[str]:
    fields = getattr(exc, "fields", None)
    return [m for ms in fields.values() for m in ms] if fields else [exc.detail]


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
        context["errors"] = _messages(exc)
    return _response(request, context)


def _form_errors(form: Any) -> list[str]:
    """The form's refusals in plain words, each after its field's label."""
    found: list[str] = []
    for name, messages in form.errors.items():
        field = form.fields.get(name)
        label = str(field.label) if field is not None and field.label else ""
        found.extend(f"{label}: {m}" if label else str(m) for m in messages)
    return found


def draft_example_view(admin: Any, request: HttpRequest, object_id: str | None) -> HttpResponse:
    """``POST`` the rule's or campaign's form as typed, with ``example_amount`` and
    ``example_tier``: what the order earns with that rule or campaign, unsaved. A form its
    save would refuse answers why (400), in the example's place."""
    obj = admin.get_object(request, object_id) if object_id is not None else None
    if object_id is not None and obj is None:
        raise Http404
    allowed = (
        admin.has_change_permission(request, obj)
        if obj is not None
        else admin.has_add_permission(request)
    )
    if not allowed:
        raise PermissionDenied
    form_class = admin.get_form(request, obj, change=obj is not None)
    form = form_class(request.POST, instance=obj)
    context: dict[str, Any] = {"errors": None, "example": None, "draft": True}
    if not form.is_valid():
        context["errors"] = _form_errors(form)
        context["error_intro"] = _("As typed, it cannot be saved yet; the example waits for:")
        return _response(request, context)
    draft = form.instance
    program: Program | None = draft.program if draft.program_id else staff_program(request)
    if program is None:
        raise Http404
    try:
        context["example"] = earning_example(
            program=program,
            amount=request.POST.get("example_amount", ""),
            tier=request.POST.get("example_tier", "")[:100],
            rule=draft if isinstance(draft, EarningRule) else None,
            campaign=draft if isinstance(draft, Campaign) else None,
        )
    except LoyaltyError as exc:
        context["errors"] = _messages(exc)
    return _response(request, context)
