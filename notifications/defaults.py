"""The shipped notification templates: every event and channel in English, Spanish, Russian
and Turkish, used when a merchant has not written its own.

They are data, not gettext: each language's text is written for that language
(``notifications.default_texts``: Russian avoids counting nouns after numbers, which
Django's ``pluralize`` cannot inflect; Turkish needs no plural after a number).
``DEFAULTS[language][event][channel]`` holds the parts of a template (``subject``,
``body_text``, ``body_html`` for email; ``title``, ``body``, ``link`` for push), in the
sandbox's syntax (``notifications.sandbox``).

The emails are built from one layout: the text version and a simple,
inline-styled HTML version (a single column, real text rather than images,
``lang`` set, ``role="presentation"`` on layout tables, contrast above WCAG
AA), each ending with why the member gets it and the unsubscribe link (a service notice:
why the address gets it, and no unsubscribe link, as it goes whatever the member's consent).
"""

from __future__ import annotations

from notifications.default_texts import LANGUAGES
from notifications.default_texts.blocks import Code, EmailText, Language, P

# Inline styles: email clients ignore <style> blocks often enough not to rely on them.
FONT = "font-family:Arial,Helvetica,sans-serif;"
STYLE_PAGE = "margin:0;padding:0;background-color:#f4f4f5;"
STYLE_CARD = "max-width:560px;background-color:#ffffff;border-radius:8px;"
STYLE_MAIN = f"padding:32px;{FONT}font-size:16px;line-height:1.5;color:#1f2937;"
STYLE_SHOP = "margin:0 0 8px;font-size:14px;color:#4b5563;"
STYLE_H1 = "margin:0 0 16px;font-size:22px;line-height:1.3;color:#111827;"
STYLE_P = "margin:0 0 16px;"
STYLE_CODE = (
    "margin:0 0 16px;padding:12px 16px;background-color:#f3f4f6;border:1px dashed #6b7280;"
    "border-radius:6px;font-family:'Courier New',Courier,monospace;font-size:22px;"
    "font-weight:bold;letter-spacing:2px;text-align:center;color:#111827;"
    # One tap or click selects the whole code, to copy it (clients that know the property).
    "-webkit-user-select:all;user-select:all;"
)
BUTTON_COLOUR = "#1d4ed8"


def _button_style(colour: str) -> str:
    return (
        f"display:inline-block;padding:12px 20px;background-color:{colour};color:#ffffff;"
        "text-decoration:none;border-radius:6px;font-weight:bold;"
    )


STYLE_FOOT = f"padding:0 32px 32px;{FONT}font-size:13px;line-height:1.5;color:#4b5563;"


def block_when(block: P, text: str) -> str:
    return f"{{% if {block.when} %}}{text}{{% endif %}}" if block.when else text


def email_text(language: Language, email: EmailText) -> str:
    lines = [language.greeting]
    for block in email.blocks:
        if isinstance(block, P):
            lines.append(block_when(block, block.text))
        elif isinstance(block, Code):
            lines.append(block.text)
        else:
            lines.append(f"{block.label}: {block.url}")
    body = "\n\n".join(lines)
    if email.notice:
        return f"{body}\n\n-- \n{language.why_notice}\n"
    return f"{body}\n\n-- \n{language.why}\n{language.unsubscribe}: {{{{ unsubscribe_url }}}}\n"


def email_html(
    code: str,
    language: Language,
    email: EmailText,
    *,
    colour: str = BUTTON_COLOUR,
    heading: str | None = None,
) -> str:
    """The email's HTML: its blocks in the layout, the button in ``colour`` (a merchant's
    brand colour, ``#`` and six hex digits), under ``heading`` (the subject by default)."""
    rows = [f'<p style="{STYLE_P}">{language.greeting}</p>']
    for block in email.blocks:
        if isinstance(block, P):
            rows.append(block_when(block, f'<p style="{STYLE_P}">{block.text}</p>'))
        elif isinstance(block, Code):
            rows.append(f'<p style="{STYLE_CODE}">{block.text}</p>')
        else:
            rows.append(
                f'<p style="margin:24px 0;"><a href="{block.url}" style="{_button_style(colour)}">'
                f"{block.label}</a></p>"
            )
    body = "\n".join(rows)
    footer = (
        language.why_notice
        if email.notice
        else f'{language.why}\n<a href="{{{{ unsubscribe_url }}}}" style="color:#374151;">'
        f"{language.unsubscribe}</a>"
    )
    return f"""<!DOCTYPE html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{email.subject}</title>
</head>
<body style="{STYLE_PAGE}">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="background-color:#f4f4f5;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" \
style="{STYLE_CARD}">
<tr><td style="{STYLE_MAIN}">
<p style="{STYLE_SHOP}">{{{{ merchant_name }}}}</p>
<h1 style="{STYLE_H1}">{email.subject if heading is None else heading}</h1>
{body}
</td></tr>
<tr><td style="{STYLE_FOOT}">
<p style="margin:0;">{footer}</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""


def _build() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    built: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for code, language in LANGUAGES.items():
        for event, (email, push) in language.events.items():
            built.setdefault(code, {})[event] = {
                "email": {
                    "subject": email.subject,
                    "body_text": email_text(language, email),
                    "body_html": email_html(code, language, email),
                },
                "push": {"title": push.title, "body": push.body, "link": push.link},
            }
    return built


DEFAULTS = _build()
FALLBACK_LANGUAGE = "en"


def default_parts(*, event: str, channel: str, language: str) -> dict[str, str]:
    """The shipped template for an event and channel, in ``language`` or else English."""
    events = DEFAULTS.get(language) or DEFAULTS[FALLBACK_LANGUAGE]
    parts = events.get(event, {}).get(channel)
    if parts is None:
        parts = DEFAULTS[FALLBACK_LANGUAGE][event][channel]
    return parts
