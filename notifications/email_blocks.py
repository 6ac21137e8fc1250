"""An email written as text blocks (a heading, paragraphs, a button's text and link) made
into its text and HTML bodies, in the shipped emails' layout with the button in the
merchant's brand colour. So a merchant changes words without touching HTML, and the
result is checked and sent like any template (the blocks use the same variables).

Invariants:
- The bodies sent are made from the blocks when the email is rendered (``sent_parts``), in
  the merchant's brand colour of that moment: a colour changed after the template was saved
  is the one the next email carries (the bodies stored on save are what the form showed).
- A paragraph that is the coupon's code alone (``{{ coupon_code }}``, as the shipped emails
  of every language have it) is the shipped emails' code box: large, monospaced, framed,
  selected whole by one tap, in inline styles; elsewhere in a sentence it stays text.
"""

from __future__ import annotations

import re
from html import escape

from notifications.default_texts import LANGUAGES
from notifications.default_texts.blocks import Block, Button, Code, EmailText, P
from notifications.defaults import (
    BUTTON_COLOUR,
    FALLBACK_LANGUAGE,
    block_when,
    email_html,
    email_text,
)
from notifications.models import NOTICE_EVENTS, Channel, NotificationTemplate

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A paragraph that is the coupon's code and nothing else (filters allowed: ``|upper``).
CODE_ALONE = re.compile(r"\{\{\s*coupon_code\s*(\|[^{}]*)?\}\}")


def blocks_bodies(
    *,
    event: str,
    language: str,
    subject: str,
    heading: str,
    paragraphs: str,
    button_text: str,
    button_link: str,
    colour: str,
) -> dict[str, str]:
    """``body_text`` and ``body_html`` made from the blocks (a button needs both its text
    and its link; a paragraph is text between empty lines)."""
    words = LANGUAGES.get(language) or LANGUAGES[FALLBACK_LANGUAGE]
    texts = [
        " ".join(part.split("\n")).strip()
        # Browsers send a textarea's lines ended by CR LF.
        for part in PARAGRAPH_BREAK.split(paragraphs.replace("\r\n", "\n").strip())
        if part.strip()
    ]
    button = (button_text.strip(), button_link.strip())
    notice = event in NOTICE_EVENTS
    plain = _email(subject, texts, button, notice)
    # In the HTML, the words are text: "<" or "&" typed by staff is shown, not markup (the
    # template tags in them have neither). A quote cannot end the link's attribute.
    marked = _email(
        subject,
        [escape(text, quote=False) for text in texts],
        (escape(button[0], quote=False), button[1].replace('"', "%22")),
        notice,
    )
    return {
        "body_text": email_text(words, plain),
        "body_html": email_html(
            language,
            words,
            marked,
            colour=colour if COLOUR.fullmatch(colour or "") else BUTTON_COLOUR,
            heading=escape(heading.strip() or subject, quote=False),
        ),
    }


def _email(subject: str, texts: list[str], button: tuple[str, str], notice: bool) -> EmailText:
    """A paragraph per text (the coupon's code alone: its box), then the button when it has
    both its text and its link."""
    blocks: list[Block] = [Code(text) if CODE_ALONE.fullmatch(text) else P(text) for text in texts]
    if all(button):
        blocks.append(Button(*button))
    return EmailText(subject=subject, blocks=tuple(blocks), notice=notice)


def shipped_blocks(*, event: str, language: str) -> dict[str, str]:
    """The shipped email of an event as blocks, to start a merchant's own from."""
    words = LANGUAGES.get(language) or LANGUAGES[FALLBACK_LANGUAGE]
    email = words.events[event][0]
    paragraphs = [
        block_when(block, block.text) if isinstance(block, P) else block.text
        for block in email.blocks
        if isinstance(block, P | Code)
    ]
    button = next((block for block in email.blocks if isinstance(block, Button)), None)
    return {
        "heading": email.subject,
        "paragraphs": "\n\n".join(paragraphs),
        "button_text": button.label if button else "",
        "button_link": button.url if button else "",
    }


def sent_parts(template: NotificationTemplate, *, colour: str) -> dict[str, str]:
    """A merchant's template's parts as they are sent: an email written as blocks gets its
    bodies made now, in ``colour`` (the merchant's brand colour as it is now)."""
    parts = template.parts()
    if template.channel == Channel.EMAIL and template.html_mode == "blocks":
        parts.update(
            blocks_bodies(
                event=template.event,
                language=template.language,
                subject=template.subject,
                heading=template.heading,
                paragraphs=template.paragraphs,
                button_text=template.button_text,
                button_link=template.button_link,
                colour=colour,
            )
        )
    return parts
