"""Reads of the notifications backoffice: which text customers get for each event, channel
and language, the shipped one or the merchant's own."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.models import Merchant
from notifications.models import NOTICE_EVENTS, Channel, Event, Language, NotificationTemplate


@dataclass(frozen=True)
class TextCell:
    language: str
    own: NotificationTemplate | None  # None: the shipped text is sent

    @property
    def label(self) -> str:
        return str(Language(self.language).label)


@dataclass(frozen=True)
class TextRow:
    event: str
    event_label: str
    channel: str
    channel_label: str
    cells: list[TextCell]
    off: bool  # switched off by the merchant: nothing of it is sent on this channel
    switchable: bool  # a service notice always goes


def sent_texts() -> list[tuple[str, str]]:
    """Every (event, channel) a member can be sent: service notices go by email only."""
    return [
        (event, channel)
        for event in Event.values
        for channel in Channel.values
        if event not in NOTICE_EVENTS or channel == Channel.EMAIL
    ]


def template_catalogue(*, merchant_id: int | None) -> list[TextRow]:
    """Every event and channel a member can be sent, each language's text: the merchant's
    own where it wrote one, else the shipped one. Service notices go by email only."""
    templates = (
        NotificationTemplate.objects.filter(merchant_id=merchant_id)
        if merchant_id is not None
        else NotificationTemplate.objects.none()  # a superuser: no merchant, shipped texts
    )
    own = {(t.event, t.channel, t.language): t for t in templates}
    off: set[str] = set()
    if merchant_id is not None:
        found = Merchant.objects.filter(pk=merchant_id).values_list("notifications_off", flat=True)
        off = set(found.first() or [])
    return [
        TextRow(
            event,
            str(Event(event).label),
            channel,
            str(Channel(channel).label),
            [
                TextCell(language, own.get((event, channel, language)))
                for language in Language.values
            ],
            off=f"{event}:{channel}" in off,
            switchable=event not in NOTICE_EVENTS,
        )
        for event, channel in sent_texts()
    ]
