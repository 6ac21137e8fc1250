"""Which template a notification uses, and rendering all of its parts.

A merchant's own template for the member's language wins; else the shipped
default in that language; a language we do not ship falls back to English.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from loyalty.audit import Action, audit_changes, audit_record
from loyalty.errors import InvalidInput
from loyalty.models import Merchant, User
from loyalty.roles import Permission, role_check
from loyalty.storage import unit
from notifications import rendering
from notifications.defaults import FALLBACK_LANGUAGE, default_parts
from notifications.email_blocks import sent_parts
from notifications.models import (
    HTML_PARTS,
    NOTICE_EVENTS,
    PARTS,
    Channel,
    Event,
    NotificationTemplate,
)

logger = logging.getLogger(__name__)

SHIPPED_LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)
# Parts shown on one line (an email subject, a push title): newlines would break headers.
ONE_LINE_PARTS = frozenset({"subject", "title", "link"})
BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
# Pre-rendered parts a TemplatesBatch keeps (one per combination of shaping values), and
# their characters in all: a part renders to up to sandbox.MAX_OUTPUT_CHARS.
MAX_PIECES = 4096
MAX_PIECES_CHARS = 20_000_000


# What the audit trail records of a template: where it applies and every part's source.
AUDITED = (
    "event",
    "channel",
    "language",
    "html_mode",
    "heading",
    "paragraphs",
    "button_text",
    "button_link",
    *PARTS[Channel.EMAIL],
    *PARTS[Channel.PUSH],
)


@transaction.atomic
def template_save(*, template: NotificationTemplate, actor: User | None) -> NotificationTemplate:
    """Store a merchant's own text (checked by the form and ``NotificationTemplate.clean``):
    a manager of its merchant only, with every changed part in the audit trail."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=template.merchant_id)
    before: dict[str, Any] = {}
    if template.pk is not None:
        stored = (
            NotificationTemplate.objects.select_for_update()
            .filter(pk=template.pk)
            .values("merchant_id", *AUDITED)
            .first()
        )
        if stored is not None:
            # Nor may a change move a template from another merchant.
            role_check(user=actor, permission=Permission.MANAGE, merchant_id=stored["merchant_id"])
            before = stored
    template.save()
    audit_record(
        merchant=template.merchant_id,
        actor=actor,
        action=Action.TEMPLATE_UPDATE if before else Action.TEMPLATE_CREATE,
        target=template,
        changes=audit_changes(before, {name: getattr(template, name) for name in AUDITED}),
    )
    return template


@transaction.atomic
def template_delete(*, template: NotificationTemplate, actor: User | None) -> None:
    """Remove a merchant's own text: the shipped one is used again from now on."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=template.merchant_id)
    stored = NotificationTemplate.objects.select_for_update().filter(pk=template.pk).first()
    if stored is None:
        return  # already gone
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=stored.merchant_id)
    audit_record(
        merchant=stored.merchant_id,
        actor=actor,
        action=Action.TEMPLATE_DELETE,
        target=stored,
        changes={"event": stored.event, "channel": stored.channel, "language": stored.language},
    )
    stored.delete()


@transaction.atomic
def notification_switch(
    *, merchant_id: int, event: str, channel: str, on: bool, actor: User | None
) -> list[str]:
    """Switch an event off (or on again) on one channel for the merchant's members: while
    off, nothing of it is written to the outbox for that channel. Service notices cannot be
    switched off (they tell a member about their own account). Returns what is off."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=merchant_id)
    if event not in Event.values or event in NOTICE_EVENTS:
        raise InvalidInput({"event": [_("This notification cannot be switched off.")]})
    if channel not in Channel.values:
        raise InvalidInput({"channel": [_("Choose email or push.")]})
    merchant = Merchant.objects.select_for_update().get(pk=merchant_id)
    key = f"{event}:{channel}"
    before = list(merchant.notifications_off)
    after = sorted(set(before) - {key}) if on else sorted({*before, key})
    if after != before:
        Merchant.objects.filter(pk=merchant_id).update(notifications_off=after)
        audit_record(
            merchant=merchant_id,
            actor=actor,
            action=Action.NOTIFICATION_ON if on else Action.NOTIFICATION_OFF,
            target=merchant,
            changes={"event": event, "channel": channel},
        )
    return after


def language_for(locale: str) -> str:
    """A member's locale as one of our languages: ``es-MX`` -> ``es``, unknown -> ``en``."""
    code = (locale or "").replace("_", "-").split("-")[0].lower()
    return code if code in SHIPPED_LANGUAGES else FALLBACK_LANGUAGE


def _tidy(name: str, text: str) -> str:
    """A rendered part as sent: one-line parts on one line; in text parts, a paragraph left
    out by an {% if %} leaves no gap of blank lines."""
    if name in ONE_LINE_PARTS:
        return " ".join(text.split())
    if name not in HTML_PARTS:
        return BLANK_LINES.sub("\n\n", text)
    return text


def _with_link(rendered: dict[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """A push without a link of its own opens the profile page."""
    if "link" in rendered and not rendered["link"]:
        rendered["link"] = str(values.get("profile_url", ""))
    return rendered


def parts_render(
    parts: Mapping[str, str], values: Mapping[str, Any], *, channel: str, language: str
) -> dict[str, str]:
    """Every part of a channel rendered in ``language`` (dates and numbers follow it)."""
    rendered: dict[str, str] = {}
    with translation.override(language):
        for name in PARTS[Channel(channel)]:
            text = rendering.render(parts.get(name, ""), values, html=name in HTML_PARTS)
            rendered[name] = _tidy(name, text)
    return _with_link(rendered, values)


def _templates(merchant_id: int, event: str, language: str) -> QuerySet[NotificationTemplate]:
    """The merchant's templates of an event and language, each with the merchant's brand
    colour as it is now (``brand_colour``: the accent of an email written as blocks)."""
    return NotificationTemplate.objects.filter(
        merchant_id=merchant_id, event=event, language=language
    ).annotate(brand_colour=F("merchant__brand_colour"))


def _parts_sent(template: NotificationTemplate) -> dict[str, str]:
    return sent_parts(template, colour=getattr(template, "brand_colour", ""))


def _merchant_templates(merchant_id: int, event: str, language: str) -> dict[str, Any]:
    """The merchant's own templates of an event and language, by channel: read once a unit
    of work (the order path writes many notifications), else each time."""

    def read() -> dict[str, Any]:
        return {template.channel: template for template in _templates(merchant_id, event, language)}

    return unit.remembered(("notification_templates", merchant_id, event, language), read)


def templates_render(
    *, merchant_id: int, event: str, channels: list[str], language: str, values: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """The rendered parts per channel, with the merchant's templates or the shipped ones.

    A merchant's template was checked when saved, so it renders; should it fail
    all the same, the shipped default is used and the failure logged: a
    notification never breaks the event that caused it.
    """
    custom = {
        channel: template
        for channel, template in _merchant_templates(merchant_id, event, language).items()
        if channel in channels
    }
    rendered: dict[str, dict[str, str]] = {}
    for channel in channels:
        template = custom.get(channel)
        if template is not None:
            try:
                rendered[channel] = parts_render(
                    _parts_sent(template), values, channel=channel, language=language
                )
                continue
            except Exception:
                logger.exception("notification template %s failed; using the default", template.pk)
        shipped = default_parts(event=event, channel=channel, language=language)
        rendered[channel] = parts_render(shipped, values, channel=channel, language=language)
    return rendered


class TemplatesBatch:
    """``templates_render`` for many members of one merchant, event and language.

    The merchant's templates are read once. Each part is rendered once for each
    combination of the values that shape it (those it reads in a filter or a condition,
    such as ``{{ balance|pluralize }}``), with the values it only prints left as slots
    (``{{ member_name }}``, ``{{ unsubscribe_url }}``) that are filled per member. The result
    is the text ``templates_render`` gives for the same values, without a template render
    per member.
    """

    def __init__(self, *, merchant_id: int, event: str, language: str) -> None:
        self.event = event
        self.language = language
        self.custom = {
            template.channel: _parts_sent(template)
            for template in _templates(merchant_id, event, language)
        }
        self.failed: set[str] = set()  # channels whose merchant template failed: shipped ones
        self._pieces: dict[tuple[Any, ...], list[str]] = {}
        self._pieces_chars = 0
        self._formatted: dict[tuple[Any, ...], str] = {}

    def render(
        self, *, channels: list[str], values: Mapping[str, Any]
    ) -> dict[str, dict[str, str]]:
        """The rendered parts per channel for one member's (plain) values."""
        rendered: dict[str, dict[str, str]] = {}
        with translation.override(self.language):
            for channel in channels:
                parts = self.custom.get(channel)
                if parts is not None and channel not in self.failed:
                    try:
                        rendered[channel] = self._parts(parts, values, channel=channel)
                        continue
                    except Exception:
                        logger.exception(
                            "notification template %s/%s failed; using the default",
                            self.event,
                            channel,
                        )
                        self.failed.add(channel)
                shipped = default_parts(event=self.event, channel=channel, language=self.language)
                rendered[channel] = self._parts(shipped, values, channel=channel)
        return rendered

    def _parts(
        self, parts: Mapping[str, str], values: Mapping[str, Any], *, channel: str
    ) -> dict[str, str]:
        rendered: dict[str, str] = {}
        for name in PARTS[Channel(channel)]:
            source = parts.get(name, "")
            html = name in HTML_PARTS
            plan = rendering.slot_plan(source)
            key = (source, html, *plan.shape(values))
            pieces = self._pieces.get(key)
            if pieces is None:
                pieces = rendering.render_slotted(source, values, slots=plan.slots, html=html)
                chars = sum(map(len, pieces))
                # Bounded memory, whatever the values and the templates.
                if len(self._pieces) >= MAX_PIECES or self._pieces_chars + chars > MAX_PIECES_CHARS:
                    self._pieces.clear()
                    self._pieces_chars = 0
                self._pieces[key] = pieces
                self._pieces_chars += chars
            if len(self._formatted) >= MAX_PIECES:
                self._formatted.clear()
            text = rendering.fill_slots(pieces, values, html=html, formatted=self._formatted)
            rendered[name] = _tidy(name, text)
        return _with_link(rendered, values)
