"""Merchant content in the page's language: ``{{ tier|localized:"name" }}`` shows the tier's
name in the active language, or its base name when the merchant gave none
(``loyalty.content.localized_attr``)."""

from typing import Any

from django import template

from loyalty.content import localized_attr

register = template.Library()


@register.filter
def localized(source: Any, name: str) -> Any:
    """An object's (or a dict's) ``name`` in the active language, with the base as fallback."""
    if source is None or source == "":
        return ""
    return localized_attr(source, name)
