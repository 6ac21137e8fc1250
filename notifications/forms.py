"""The backoffice form for notification templates.

It parses and presents; the template rules (sandbox, documented variables,
required parts) live in the model's ``clean`` and ``notifications.rendering``,
and their refusals appear on the part that caused them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from loyalty.models import DEFAULT_BRAND_COLOUR, Merchant
from notifications import rendering, sandbox
from notifications.email_blocks import blocks_bodies
from notifications.models import PARTS, Channel, NotificationTemplate

ALL_PARTS = tuple(name for parts in PARTS.values() for name in parts)
BLOCK_FIELDS = ("heading", "paragraphs", "button_text", "button_link")


def merchant_colour(merchant_id: int | None) -> str:
    """The merchant's brand colour, the accent of the emails written as blocks."""
    if merchant_id is None:
        return DEFAULT_BRAND_COLOUR
    found = Merchant.objects.filter(pk=merchant_id).values_list("brand_colour", flat=True)
    return found.first() or DEFAULT_BRAND_COLOUR


def variables_help() -> SafeString:
    """The documented variables as an HTML list, for the admin."""
    items = format_html_join(
        "\n",
        "<li><code>{{{{ {} }}}}</code>: {}</li>",
        ((name, text) for name, text in rendering.VARIABLES.items()),
    )
    limits = {
        "source": sandbox.MAX_SOURCE_CHARS,
        "output": sandbox.MAX_OUTPUT_CHARS,
        "width": sandbox.MAX_WIDTH,
        "decimals": sandbox.MAX_DECIMALS,
        "nesting": sandbox.MAX_NESTING,
    }
    return format_html(
        "<p>{}</p><ul>{}</ul><p>{}</p><p>{}</p>",
        _(
            "Templates use Django's template syntax with only these variables. "
            "A template using anything else is refused when you save it."
        ),
        items,
        _(
            'Tags: {% if %}, {% firstof %}, {% with %}, {% now %}; filters such as "date", '
            '"default", "pluralize", "upper". HTML bodies are escaped automatically.'
        ),
        _(
            "Limits: a part is at most %(source)s characters long and makes at most "
            "%(output)s characters of text; blocks nest at most %(nesting)s deep; ljust, "
            "rjust, center and stringformat take widths up to %(width)s, floatformat up to "
            "%(decimals)s decimal places. There are no loops."
        )
        % limits,
    )


class NotificationTemplateForm(forms.ModelForm):
    # Set by the admin for a staff user: the merchant whose template this is.
    merchant_id: ClassVar[int | None] = None

    class Meta:
        model = NotificationTemplate
        fields = ("merchant", "event", "channel", "language", "html_mode", *BLOCK_FIELDS,
                  *ALL_PARTS)  # fmt: skip
        widgets = {
            "subject": forms.TextInput(attrs={"class": "vLargeTextField"}),
            "body_text": forms.Textarea(attrs={"rows": 14, "class": "vLargeTextField"}),
            "body_html": forms.Textarea(attrs={"rows": 14, "class": "vLargeTextField"}),
            "title": forms.TextInput(attrs={"class": "vLargeTextField"}),
            "body": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
            "link": forms.TextInput(attrs={"class": "vLargeTextField"}),
            "heading": forms.TextInput(attrs={"class": "vLargeTextField"}),
            "paragraphs": forms.Textarea(attrs={"rows": 10, "class": "vLargeTextField"}),
            "button_text": forms.TextInput(attrs={"class": "vTextField"}),
            "button_link": forms.TextInput(attrs={"class": "vLargeTextField"}),
        }
        help_texts = {
            "body_html": _("Optional: without it the email is sent as plain text."),
            "link": _("Where a tap on the notification leads; the profile page when empty."),
            "paragraphs": _(
                "Leave an empty line between paragraphs. A paragraph of {{ coupon_code }} "
                "alone shows the code in a framed box, easy to copy."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.merchant_id is not None and self.instance.merchant_id is None:
            self.instance.merchant_id = self.merchant_id
        if "html_mode" in self.fields:
            self.fields["html_mode"].required = False  # left out: the bodies as typed

    def clean_html_mode(self) -> str:
        return str(self.cleaned_data.get("html_mode") or "raw")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        channel = cleaned.get("channel")
        if channel in Channel.values:
            # The other channel's parts are not kept: what is stored is what is used.
            for name in ALL_PARTS:
                if name not in PARTS[Channel(channel)] and name in self.fields:
                    cleaned[name] = ""
            if channel == Channel.EMAIL and cleaned.get("html_mode") == "blocks":
                self._check_blocks(cleaned)
                cleaned.update(self._bodies(cleaned))
            elif channel == Channel.PUSH:
                cleaned.update(dict.fromkeys(BLOCK_FIELDS, ""), html_mode="raw")
        if "merchant" not in self.fields:
            self._check_unique(cleaned)
        return cleaned

    def _check_blocks(self, cleaned: dict[str, Any]) -> None:
        """Each block checked as a part is (sandbox, documented variables), its problems on
        its own field: the bodies made from them are not on the page."""
        if not str(cleaned.get("paragraphs") or "").strip():
            self.add_error("paragraphs", _("Write at least one paragraph."))
        for name in BLOCK_FIELDS:
            source = str(cleaned.get(name) or "")
            problems = rendering.template_problems(source, url=name == "button_link")
            for problem in problems if source.strip() else []:
                self.add_error(name, problem)

    def _bodies(self, cleaned: dict[str, Any]) -> dict[str, str]:
        """The bodies made from the blocks: what is stored is what is sent."""
        merchant = cleaned.get("merchant")
        merchant_id = merchant.pk if merchant is not None else self.instance.merchant_id
        return blocks_bodies(
            event=str(cleaned.get("event") or ""),
            language=str(cleaned.get("language") or ""),
            subject=str(cleaned.get("subject") or ""),
            colour=merchant_colour(merchant_id),
            **{name: str(cleaned.get(name) or "") for name in BLOCK_FIELDS},
        )

    def _check_unique(self, cleaned: dict[str, Any]) -> None:
        # Django checks the unique constraint only when every field of it is on the form.
        keys = {name: cleaned.get(name) for name in ("event", "channel", "language")}
        if self.instance.merchant_id is None or not all(keys.values()):
            return
        clash = NotificationTemplate.objects.filter(merchant_id=self.instance.merchant_id, **keys)
        if clash.exclude(pk=self.instance.pk).exists():
            self.add_error(
                "language",
                _("There is already a template for this event, channel and language."),
            )
