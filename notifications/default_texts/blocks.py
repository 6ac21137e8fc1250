"""The words of a shipped template: its blocks and texts, per language (the layout that turns
them into an email is ``notifications.defaults``')."""

from __future__ import annotations

from dataclasses import dataclass, field

# Blocks of an email's body, in order:
#   P(text, when)         a paragraph, shown only when the variable ``when`` is set
#   Code(text)            the coupon code, large and monospaced
#   Button(label, url)    a call to action (in the text version: "label: url")


@dataclass(frozen=True)
class P:
    text: str
    when: str = ""


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Button:
    label: str
    url: str


Block = P | Code | Button


@dataclass(frozen=True)
class EmailText:
    subject: str
    blocks: tuple[Block, ...]
    # A service notice (``notifications.models.NOTICE_EVENTS``): sent whatever the member's
    # consent, so it ends with why it came (``Language.why_notice``), not an unsubscribe link.
    notice: bool = False


@dataclass(frozen=True)
class PushText:
    title: str
    body: str
    link: str = "{{ profile_url }}"


@dataclass(frozen=True)
class Language:
    greeting: str
    why: str  # why the member gets this email
    unsubscribe: str
    why_notice: str  # why the holder of this address gets a service notice
    events: dict[str, tuple[EmailText, PushText]] = field(default_factory=dict)


COUPONS = "{{ profile_url }}#coupons"
