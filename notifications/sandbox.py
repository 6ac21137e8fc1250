"""The sandbox that notification templates compile and render in (Django template syntax).

Invariants:
- The engine has no loaders (so no ``include`` or ``extends``), no ``load``, no
  ``debug``, no ``url``, no ``autoescape off`` and no ``safe``: only the tags
  and filters listed below exist in it. HTML parts are autoescaped; text
  parts are not.
- A part cannot be made to cost much, whoever wrote it and whatever the values:
  its source is at most ``MAX_SOURCE_CHARS`` long with blocks nested at most
  ``MAX_NESTING`` deep; no filter makes a text longer than ``MAX_VALUE_CHARS``
  (so ``{% with %}`` cannot double a text again and again); padding and number
  formats take a width of at most ``MAX_WIDTH`` (``ljust``, ``rjust``,
  ``center``, ``stringformat``), ``floatformat`` at most ``MAX_DECIMALS``
  places, ``widthratio`` a width of at most ``MAX_WIDTHRATIO``; and rendering
  stops as soon as the part's text passes ``MAX_OUTPUT_CHARS``. Past a limit,
  ``TemplateLimitExceeded`` says which: on save and in the preview as the part's
  problem, and when a notification is written, the shipped template is used
  instead (``notifications.services.templates``). There is no loop tag, and no
  filter that makes a list (``make_list``) or joins one (``join``).
- Compiled templates are kept for reuse up to ``CACHE_SOURCE_CHARS`` of source
  in all, so previews of many distinct sources cannot fill the memory.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    Template,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, Parser, Token, VariableDoesNotExist
from django.template.defaulttags import WidthRatioNode
from django.utils.translation import gettext_lazy as _

ALLOWED_TAGS = (
    "comment",
    "firstof",
    "if",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
ALLOWED_FILTERS = (
    "add",
    "capfirst",
    "center",
    "cut",
    "date",
    "default",
    "default_if_none",
    "divisibleby",
    "escape",
    "first",
    "floatformat",
    "force_escape",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "ljust",
    "lower",
    "pluralize",
    "rjust",
    "slice",
    "stringformat",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "yesno",
)

# What one template part may be and make: the same on save, in the preview and when sent.
MAX_SOURCE_CHARS = 20_000  # the part's source (the shipped ones are under 2,500)
MAX_NESTING = 20  # blocks ({% if %}, {% with %}...) inside each other
MAX_OUTPUT_CHARS = 100_000  # the part rendered
MAX_VALUE_CHARS = 10_000  # a text one filter makes
MAX_WIDTH = 100  # ljust, rjust, center; stringformat's width and precision
MAX_DECIMALS = 20  # floatformat
MAX_WIDTHRATIO = 1_000  # widthratio's max_width
# Compiled templates kept for reuse, counted in source characters (about 40 bytes each).
CACHE_SOURCE_CHARS = 2_000_000


class TemplateLimitExceeded(Exception):
    """A part that would cost more than the sandbox allows; the message says which limit."""


def _numbers(arg: Any) -> list[int]:
    """The whole numbers written in a filter's argument (``"020000000d"`` -> [20000000]);
    one of more than nine digits counts as 10 ** 9 (int() refuses thousands of digits)."""
    runs = (digits.lstrip("0") or "0" for digits in re.findall(r"\d+", str(arg)))
    return [int(run) if len(run) <= 9 else 10**9 for run in runs]


def _width_check(name: str, arg: Any, limit: int = MAX_WIDTH) -> None:
    if any(number > limit for number in _numbers(arg)):
        raise TemplateLimitExceeded(
            _("“%(name)s” takes a width of at most %(limit)s.") % {"name": name, "limit": limit}
        )


def _decimals_check(name: str, arg: Any) -> None:
    if any(number > MAX_DECIMALS for number in _numbers(arg)):
        raise TemplateLimitExceeded(
            _("“%(name)s” takes at most %(limit)s decimal places.")
            % {"name": name, "limit": MAX_DECIMALS}
        )


# Filters whose argument is a size: checked before the filter runs.
ARGUMENT_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "center": _width_check,
    "ljust": _width_check,
    "rjust": _width_check,
    "stringformat": _width_check,
    "floatformat": _decimals_check,
}


def _bounded(name: str) -> Callable[..., Any]:
    """Django's filter ``name``, refusing an oversized argument and an oversized result.

    ``functools.wraps`` keeps the filter's flags (``is_safe``, ``needs_autoescape``...)
    and its signature (Django checks the number of arguments through ``__wrapped__``).
    """
    original = defaultfilters.register.filters[name]
    check = ARGUMENT_CHECKS.get(name)

    @functools.wraps(original)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if check is not None and args:
            check(name, args[0])
        result = original(value, *args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_VALUE_CHARS:
            raise TemplateLimitExceeded(
                _("“%(name)s” makes a text longer than %(limit)s characters.")
                % {"name": name, "limit": MAX_VALUE_CHARS}
            )
        return result

    return bounded


class _WidthRatioNode(WidthRatioNode):
    def render(self, context: Context) -> str:
        try:
            width = int(self.max_width.resolve(context))
        except (VariableDoesNotExist, ValueError, TypeError):
            pass  # Django's own node says what is wrong
        else:
            _width_check("widthratio", width, MAX_WIDTHRATIO)
        return str(super().render(context))


def _widthratio(parser: Parser, token: Token) -> Node:
    node = defaulttags.widthratio(parser, token)
    return _WidthRatioNode(node.val_expr, node.max_expr, node.max_width, asvar=node.asvar)


SANDBOX = Library()
for _name in ALLOWED_TAGS:
    SANDBOX.tags[_name] = defaulttags.register.tags[_name]
SANDBOX.tags["widthratio"] = _widthratio
for _name in ALLOWED_FILTERS:
    SANDBOX.filters[_name] = _bounded(_name)

SPENT = "notifications.sandbox.spent"  # the part's characters so far, in its render context


class _Counted(Node):
    """A leaf of a compiled template (text, a variable, a tag that prints): its output counts
    towards the part's ``MAX_OUTPUT_CHARS``, so rendering stops as soon as it is past them."""

    child_nodelists = ()

    def __init__(self, node: Node) -> None:
        self.node = node

    def render(self, context: Context) -> str:
        text = str(self.node.render_annotated(context))  # a SafeString stays one
        spent = (context.render_context.get(SPENT) or 0) + len(text)
        if spent > MAX_OUTPUT_CHARS:
            raise output_exceeded()
        context.render_context[SPENT] = spent
        return text


def output_exceeded() -> TemplateLimitExceeded:
    return TemplateLimitExceeded(
        _("The template makes more than %(limit)s characters of text.")
        % {"limit": MAX_OUTPUT_CHARS}
    )


class _SandboxParser(Parser):
    """Django's parser, counting the nesting of blocks and wrapping each leaf in ``_Counted``
    (a block's own output is its leaves', so it is counted once)."""

    depth = 0

    def parse(self, parse_until: Any = None) -> NodeList:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING + 1:  # the template itself is the first level
                raise TemplateLimitExceeded(
                    _("Blocks are nested more than %(limit)s deep.") % {"limit": MAX_NESTING}
                )
            return super().parse(parse_until)
        finally:
            self.depth -= 1

    def extend_nodelist(self, nodelist: NodeList, node: Node, token: Token) -> None:
        children = (getattr(node, name, None) for name in node.child_nodelists)
        if not any(isinstance(child, NodeList) for child in children):
            node.token = token  # what Django's error messages point at
            node = _Counted(node)
        super().extend_nodelist(nodelist, node, token)


class SandboxTemplate(Template):
    def compile_nodelist(self) -> NodeList:
        if len(self.source) > MAX_SOURCE_CHARS:
            raise TemplateLimitExceeded(
                _("A template part may be at most %(limit)s characters long.")
                % {"limit": MAX_SOURCE_CHARS}
            )
        parser = _SandboxParser(
            Lexer(self.source).tokenize(),
            self.engine.template_libraries,
            self.engine.template_builtins,
            self.origin,
        )
        try:
            nodelist = parser.parse()
        except RecursionError:  # an {% if %} condition of thousands of "not"
            raise TemplateLimitExceeded(
                _("Blocks are nested more than %(limit)s deep.") % {"limit": MAX_NESTING}
            ) from None
        self.extra_data = parser.extra_data
        return nodelist


class SandboxEngine(Engine):
    """An engine whose only tags and filters are ``SANDBOX``'s, with nothing to load."""

    default_builtins = []  # the base class lists every default library; none here

    def get_template_builtins(self, builtins: list[Any]) -> list[Library]:
        return [SANDBOX]

    def from_string(self, template_code: str) -> Template:
        return SandboxTemplate(template_code, engine=self)


ENGINE = SandboxEngine(loaders=[], libraries={}, autoescape=True)


class _CompiledCache:
    """Compiled templates by source, the least recently used dropped first, holding at most
    ``CACHE_SOURCE_CHARS`` of source in all (a count of entries would let 1,024 sources of
    20,000 characters hold gigabytes)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[str, Template] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, source: str) -> Template:
        with self.lock:
            template = self.entries.get(source)
            if template is not None:
                self.entries.move_to_end(source)
                return template
        template = ENGINE.from_string(source)
        with self.lock:
            if source not in self.entries:
                self.entries[source] = template
                self.size += len(source)
            while self.size > self.limit and self.entries:
                dropped, _template = self.entries.popitem(last=False)
                self.size -= len(dropped)
        return template

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0


_compiled = _CompiledCache(CACHE_SOURCE_CHARS)


def compile_template(source: str) -> Template:
    """The compiled template (cached: the defaults are rendered again and again)."""
    return _compiled.get(source)
