"""Sandboxed rendering of notification templates (Django template syntax).

A template sees only these variables, all plain values, never a model:

==================== ======================================================
member_name          the member's name (may be empty)
points               the points of this event (earned, granted, expired, spent on a reward)
balance              the member's balance after the event
coupon_code          the coupon's code, grouped for reading (``ABCDE-FGHJK-MNPQR``)
coupon_terms         what the coupon takes off, in words (``10% off orders of at least…``)
coupon_valid_until   the coupon's last day (a date)
expiry_date          the day the points expire (a date)
expiring_points      how many points expire on that day
profile_url          the member's profile page
unsubscribe_url      the one-click link that stops these emails
merchant_name        the shop's name
tier_name            the member's tier (in the member's language where the merchant gave it)
reward_name          the reward's name (its coupon template's), in the member's language
reason               why the points were granted (written by staff)
==================== ======================================================

Invariants:
- A template referencing any other variable, or that does not compile, is
  reported by ``template_problems``; the model's ``clean`` refuses it on save.
- ``render`` accepts only the documented names with plain values (str, int,
  Decimal, date; an aware datetime becomes its local date), so no attribute of
  anything else can be reached from a template.
- The engine, its limits and its cache are ``notifications.sandbox``'s.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.template import Context, Node, NodeList, Template
from django.template.base import FilterExpression, Variable, VariableNode, render_value_in_context
from django.template.defaulttags import ForNode, IfNode, TemplateLiteral, WithNode
from django.template.exceptions import TemplateSyntaxError
from django.template.smartif import TokenBase
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.translation import gettext_lazy as _

from notifications.sandbox import (
    MAX_OUTPUT_CHARS,
    TemplateLimitExceeded,
    compile_template,
    output_exceeded,
)

VARIABLES: dict[str, Promise] = {
    "member_name": _("the member's name (may be empty)"),
    "points": _("the points of this event (earned, granted, expired, spent on a reward)"),
    "balance": _("the member's balance after the event"),
    "coupon_code": _("the coupon's code"),
    "coupon_terms": _("what the coupon takes off, in words"),
    "coupon_valid_until": _("the coupon's last day (a date)"),
    "expiry_date": _("the day the points expire (a date)"),
    "expiring_points": _("how many points expire on that day"),
    "profile_url": _("the member's profile page"),
    "unsubscribe_url": _("the link that stops these emails"),
    "merchant_name": _("the shop's name"),
    "tier_name": _("the member's tier"),
    "reason": _("why the points were granted"),
    "reward_name": _("the reward's name"),
}

PLAIN_TYPES = (str, int, Decimal, datetime.date)
# Names every Django context resolves by itself (``{% if reason == None %}``).
CONTEXT_BUILTINS = frozenset({"True", "False", "None"})


def template_problems(source: str, *, html: bool = False, url: bool = False) -> list[str]:
    """Why ``source`` cannot be saved as a template part; empty when it can.

    It must compile in the sandbox, reference only documented variables, and
    render with a sample context (to an http(s) address when ``url``).
    """
    try:
        template = compile_template(source)
    except TemplateLimitExceeded as error:
        return [str(error)]
    except TemplateSyntaxError as error:
        return [_syntax_problem(error)]
    unknown = sorted(unknown_variables(template))
    if unknown:
        names = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
        known = ", ".join(VARIABLES)
        return [
            str(_("Unknown variable(s): %(names)s. Available: %(known)s."))
            % {"names": names, "known": known}
        ]
    try:
        rendered = render(source, sample_context(), html=html)
    except TemplateLimitExceeded as error:
        return [str(error)]
    except Exception as error:  # a filter refusing the sample values
        return [str(_("The template fails to render: %(error)s")) % {"error": error}]
    if url and not rendered.strip().startswith(("https://", "http://")):
        return [str(_("The link must render to an address starting with https:// or http://."))]
    return []


def _syntax_problem(error: TemplateSyntaxError) -> str:
    """Django's message, or a plainer one for a tag or filter the sandbox leaves out."""
    message = str(error)
    tag = re.match(r"Invalid block tag on line \d+: '(\w+)'", message)
    closing = tag and (tag.group(1).startswith("end") or tag.group(1) in ("else", "elif", "empty"))
    if tag and not closing:
        return str(_("The tag “%(tag)s” is not available in notification templates.")) % {
            "tag": tag.group(1)
        }
    filter_ = re.match(r"Invalid filter: '(\w+)'", message)
    if filter_:
        return str(_("The filter “%(filter)s” is not available in notification templates.")) % {
            "filter": filter_.group(1)
        }
    return str(_("The template does not compile: %(error)s")) % {"error": message}


def unknown_variables(template: Template) -> set[str]:
    """The names a template reads that are not documented variables (nor its own ``with``)."""
    found: set[str] = set()
    _check(template.nodelist, frozenset(VARIABLES) | CONTEXT_BUILTINS, found)
    return found


def _check(value: Any, known: frozenset[str], found: set[str]) -> None:
    """Walk a compiled template: nodes, their expressions and ``if`` conditions."""
    if isinstance(value, FilterExpression):
        _check(value.var, known, found)
        for _func, args in value.filters:
            for is_variable, arg in args:
                if is_variable:
                    _check(arg, known, found)
    elif isinstance(value, Variable):
        if value.lookups is not None and value.lookups[0] not in known:
            found.add(value.lookups[0])
    elif isinstance(value, ForNode):  # not in the sandbox; kept so the walk stays exact
        _check(value.sequence, known, found)
        _check(value.nodelist_loop, known | set(value.loopvars) | {"forloop"}, found)
        _check(value.nodelist_empty, known, found)
    elif isinstance(value, WithNode):
        _check(value.extra_context, known, found)
        _check(value.nodelist, known | set(value.extra_context), found)
    elif isinstance(value, Node):
        for name, attribute in vars(value).items():
            if name not in ("token", "origin"):
                _check(attribute, known, found)
    elif isinstance(value, TokenBase):  # an ``if`` condition: operators and literals
        for attribute in (value.first, value.second, value.value):
            _check(attribute, known, found)
    elif isinstance(value, NodeList | list | tuple):
        for item in value:
            _check(item, known, found)
    elif isinstance(value, dict):
        for item in value.values():
            _check(item, known, found)


def plain_context(values: Mapping[str, Any]) -> dict[str, Any]:
    """The documented variables with plain values; anything else is a programming error."""
    context: dict[str, Any] = dict.fromkeys(VARIABLES, "")
    for name, value in values.items():
        if name not in VARIABLES:
            raise ValueError(f"{name!r} is not a documented template variable")
        if isinstance(value, datetime.datetime):
            value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
        if value is not None and not isinstance(value, PLAIN_TYPES):
            raise TypeError(f"{name!r} must be a plain value, not {type(value).__name__}")
        context[name] = "" if value is None else value
    return context


def render(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """Render ``source`` with only the documented variables; HTML autoescaped, text not.

    Dates and numbers follow the active language (callers use
    ``translation.override``).
    """
    template = compile_template(source)
    rendered = template.render(Context(plain_context(values), autoescape=html))
    # A plain str, not the engine's SafeString: from here on it is data, and whoever shows
    # it inside a page (the admin's preview) must escape it like any other text.
    return str.__str__(rendered)


def sample_context() -> dict[str, Any]:
    """Values for the admin's preview and the save-time check: every variable filled in."""
    today = timezone.localdate()
    return {
        "member_name": "Alex Morgan",
        "points": 500,
        "balance": 120,
        "coupon_code": "ABCDE-FGHJK-MNPQR",
        "coupon_terms": "10% off",
        "coupon_valid_until": today + datetime.timedelta(days=30),
        "expiry_date": today + datetime.timedelta(days=14),
        "expiring_points": 250,
        "profile_url": "https://example.com/profile/",
        "unsubscribe_url": "https://example.com/unsubscribe/",
        "merchant_name": "Example Shop",
        "tier_name": "Gold",
        "reason": "Sorry for the late delivery",
        "reward_name": "Welcome gift",
    }


# Rendering one template for many members: the parts of the output that do not depend on a
# member are rendered once, and each member's own values are slotted in.

SLOT = re.compile("\ue000(\\w+)\ue001")


@dataclass(frozen=True)
class SlotPlan:
    """How one template part uses the variables, for rendering it for many members.

    ``slots``: printed as a bare ``{{ name }}`` and otherwise at most tested for truth.
    ``truths``: read only as a condition's truth (``{% if name %}``, ``and``/``or``/``not``),
    so only whether they are empty shapes the text. ``exact``: read in any other way (a
    filter, a comparison, a ``with``), so their value shapes the text. A slot with an empty
    value is not left as a slot but rendered (so its truth is the real one), and is part of
    the shape.
    """

    slots: frozenset[str]
    truths: frozenset[str]
    exact: frozenset[str]

    def shape(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """What of ``values`` decides the text around the slots."""
        return (
            *(bool(values.get(name)) for name in sorted(self.truths)),
            *(values.get(name) for name in sorted(self.exact)),
            *(
                (type(values.get(name)), values.get(name))
                for name in sorted(self.slots)
                if not values.get(name)
            ),
        )


@lru_cache(maxsize=1024)
def slot_plan(source: str) -> SlotPlan:
    bare: set[str] = set()
    truths: set[str] = set()
    exact: set[str] = set()
    _uses(compile_template(source).nodelist, bare, truths, exact, truth=False)
    if "\ue000" in source or "\ue001" in source:  # our slot marks: slot nothing
        return SlotPlan(frozenset(), frozenset(), frozenset(bare | truths | exact))
    # A variable both printed and tested is still a slot: the shape keeps its truth.
    return SlotPlan(frozenset(bare - exact), frozenset(truths - exact), frozenset(exact))


def _bare_name(expression: Any) -> str | None:
    """The variable's name when ``expression`` is a lone ``name`` without filters."""
    if (
        isinstance(expression, FilterExpression)
        and not expression.filters
        and isinstance(expression.var, Variable)
        and len(expression.var.lookups or ()) == 1
    ):
        return expression.var.lookups[0]  # type: ignore[index]
    return None


def _uses(value: Any, bare: set[str], truths: set[str], exact: set[str], *, truth: bool) -> None:
    """Walk a compiled template (like ``_check``), sorting the variables by how they are read.

    ``truth``: ``value`` is an operand whose truth alone matters (an ``if`` condition, an
    operand of ``and``/``or``/``not``).
    """
    if isinstance(value, VariableNode):
        name = _bare_name(value.filter_expression)
        if name is not None:
            bare.add(name)
        else:
            _uses(value.filter_expression, bare, truths, exact, truth=False)
    elif isinstance(value, IfNode):
        for condition, nodelist in value.conditions_nodelists:
            _uses(condition, bare, truths, exact, truth=True)
            _uses(nodelist, bare, truths, exact, truth=False)
    elif isinstance(value, TemplateLiteral):
        name = _bare_name(value.value)
        if truth and name is not None:
            truths.add(name)
        else:
            _uses(value.value, bare, truths, exact, truth=False)
    elif isinstance(value, TokenBase):
        logical = getattr(value, "id", None) in ("and", "or", "not")
        for attribute in (value.first, value.second, value.value):
            _uses(attribute, bare, truths, exact, truth=truth and logical)
    elif isinstance(value, FilterExpression):
        _uses(value.var, bare, truths, exact, truth=False)
        for _func, args in value.filters:
            for is_variable, arg in args:
                if is_variable:
                    _uses(arg, bare, truths, exact, truth=False)
    elif isinstance(value, Variable):
        if value.lookups is not None:
            exact.add(value.lookups[0])
    elif isinstance(value, Node):
        for name, attribute in vars(value).items():
            if name not in ("token", "origin"):
                _uses(attribute, bare, truths, exact, truth=False)
    elif isinstance(value, NodeList | list | tuple):
        for item in value:
            _uses(item, bare, truths, exact, truth=truth)
    elif isinstance(value, dict):
        for item in value.values():
            _uses(item, bare, truths, exact, truth=False)


def render_slotted(
    source: str, values: Mapping[str, Any], *, slots: frozenset[str], html: bool = False
) -> list[str]:
    """``render`` with each variable of ``slots`` that has a value (an empty one is rendered,
    see ``SlotPlan``) left as a slot: the output split into
    ``[text, name, text, name, ..., text]``, to be joined by ``fill_slots``."""
    marked = {**values, **{name: f"\ue000{name}\ue001" for name in slots if values.get(name)}}
    return SLOT.split(render(source, marked, html=html))


def fill_slots(
    pieces: list[str],
    values: Mapping[str, Any],
    *,
    html: bool = False,
    formatted: dict[tuple[Any, ...], str] | None = None,
) -> str:
    """The text ``render`` would give: each slot printed as ``{{ name }}`` prints its value
    (localized in the active language, escaped in HTML). ``formatted`` caches the printed
    numbers and dates (for one language)."""
    context = Context(autoescape=html)
    cache = {} if formatted is None else formatted
    out = []
    spent = 0
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            text = piece
        elif isinstance(value := values[piece], str):  # what printing a string does
            text = conditional_escape(value) if html else value
        else:
            key = (html, type(value), value)
            if key not in cache:
                cache[key] = render_value_in_context(value, context)
            text = cache[key]
        # The same limit as ``render``: the slots' values count as they are filled in.
        spent += len(text)
        if spent > MAX_OUTPUT_CHARS:
            raise output_exceeded()
        out.append(text)
    return str.__str__("".join(out))
