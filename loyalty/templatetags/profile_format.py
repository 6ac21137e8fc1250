"""Numbers, money and colours on customer pages, formatted for the active language."""

from datetime import date, datetime

from django import template
from django.utils import dateformat, formats, timezone, translation

register = template.Library()


@register.filter
def points(value: int | None) -> str:
    """1766 -> "1,766" in English, "1.766" in Spanish, "1 766" in Russian."""
    return formats.number_format(value or 0, use_l10n=True, force_grouping=True)


@register.filter
def signed_points(value: int) -> str:
    """Entries read "+120" and "−80" (a real minus sign)."""
    text = points(abs(value))
    return f"+{text}" if value > 0 else f"\N{MINUS SIGN}{text}"


# A day in each language's own way. Django's DATE_FORMAT for Russian ends in "г." (so a
# sentence after it read "г.."); Russian writes the month in the genitive ("7 декабря 2026").
DAY_FORMATS = {"en": "F j, Y", "es": r"j \d\e F \d\e Y", "ru": "j E Y", "tr": "j F Y"}


@register.filter
def day(value: date | datetime | None) -> str:
    """A date (a moment: its local day) for a sentence: "December 7, 2026", "7 de diciembre
    de 2026", "7 декабря 2026", "7 Aralık 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    language = (translation.get_language() or "en").split("-")[0]
    return dateformat.format(value, DAY_FORMATS.get(language, DAY_FORMATS["en"]))


INK = "#111827"


def _luminance(hex_colour: str) -> float | None:
    """WCAG relative luminance of "#rrggbb"; None for anything else."""
    try:
        rgb = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    except (ValueError, AttributeError):
        return None
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@register.filter
def on_colour(hex_colour: str) -> str:
    """Black or white, whichever reads better on ``hex_colour``."""
    luminance = _luminance(hex_colour)
    if luminance is None:
        return "#ffffff"
    # Contrast with white is 1.05 / (L + 0.05); with black (L + 0.05) / 0.05.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else INK


@register.filter
def text_colour(hex_colour: str) -> str:
    """The brand colour for text on white when it reads well enough (4.5:1), else ink."""
    luminance = _luminance(hex_colour)
    if luminance is None or 1.05 / (luminance + 0.05) < 4.5:
        return INK
    return hex_colour
