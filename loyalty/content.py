"""Merchant content in the member's language: tier names and benefits, coupon template (reward)
names, campaign names and the customer-facing reason of a manual grant or deduction.

Each such value keeps its base column (``name``, ``benefits``, a ledger entry's ``reason``),
which is the merchant's own text and the fallback, and beside it a ``<field>_i18n`` JSON
object with a value per language of ``settings.LANGUAGES``: ``{"es": "Oro", "ru": "Золото"}``.

Invariants:
- a stored translations object has only keys of ``settings.LANGUAGES``, each a non-empty text
  of at most the field's length (or, for line lists, at most ``MAX_LINES`` such texts);
  ``translations_clean`` makes it so or refuses, naming the problem;
- ``localized`` never answers an empty value when the base has one: a language without its
  own value shows the base.

This module imports nothing of the project, so models, rules, services and pages all use it.
"""

from collections.abc import Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

T = TypeVar("T", str, list[str])

# A tier lists at most this many benefits (``loyalty.services.tier_settings``), per language too.
MAX_LINES = 20
# The key under which a ledger entry's ``details`` keep its reason's translations.
REASON_KEY = "reason_i18n"


def content_languages() -> list[str]:
    """The languages a merchant may give a value in, in the settings' order."""
    return [code for code, _name in settings.LANGUAGES]


def language_code(language: str | None) -> str:
    """``es-MX`` -> ``es``; the active language when none is given."""
    code = language if language is not None else (get_language() or settings.LANGUAGE_CODE)
    return code.replace("_", "-").split("-")[0].lower()


def localized(base: T, values: Any, language: str | None = None) -> T:
    """The value for ``language`` (the active one by default), else the base value."""
    if isinstance(values, Mapping):
        found = values.get(language_code(language))
        if found and isinstance(found, type(base)):
            return found
    return base


def localized_attr(source: Any, name: str, language: str | None = None) -> Any:
    """``localized`` for a field of an object or a dict: ``name`` and ``name + "_i18n"``."""
    if isinstance(source, Mapping):
        return localized(source.get(name) or "", source.get(f"{name}_i18n"), language)
    base = getattr(source, name, "")
    values = getattr(source, f"{name}_i18n", None)
    return localized(base if base is not None else "", values, language)


def _clean_text(value: Any, max_length: int) -> str:
    if not isinstance(value, str) or "\x00" in value:  # PostgreSQL's JSON holds no NUL
        raise ValidationError(_("Give a text."), code="invalid")
    text = value.strip()
    if len(text) > max_length:
        message = ngettext(
            "At most %(limit)d character.", "At most %(limit)d characters.", max_length
        )
        raise ValidationError(message % {"limit": max_length}, code="max_length")
    return text


def _clean_lines(value: Any, max_length: int) -> list[str]:
    if not isinstance(value, list):
        raise ValidationError(_("Give a list of texts."), code="invalid")
    lines = [_clean_text(line, max_length) for line in value]
    lines = [line for line in lines if line]
    if len(lines) > MAX_LINES:
        message = ngettext("At most %(limit)d line.", "At most %(limit)d lines.", MAX_LINES)
        raise ValidationError(message % {"limit": MAX_LINES}, code="max_lines")
    return lines


def translations_clean(value: Any, *, max_length: int, lines: bool = False) -> dict[str, Any]:
    """The translations as stored: known languages only, texts stripped, empty ones left out.

    Refuses (``ValidationError``, the message naming the language) anything else: not an
    object, an unknown language key, a value that is not a text (a list of texts for
    ``lines``) or is longer than ``max_length``.
    """
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(_("Give an object of language codes and texts."), code="invalid")
    known = content_languages()
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise ValidationError(
            _("Unknown language %(keys)s; the languages are %(known)s."),
            code="unknown_language",
            params={"keys": ", ".join(unknown), "known": ", ".join(known)},
        )
    cleaned: dict[str, Any] = {}
    for code in known:
        if code not in value:
            continue
        clean = _clean_lines if lines else _clean_text
        try:
            item = clean(value[code], max_length)
        except ValidationError as error:
            raise ValidationError(
                [f"{code}: {message}" for message in error.messages], code=error.code
            ) from error
        if item:
            cleaned[code] = item
    return cleaned


def translations_problems(value: Any, *, max_length: int, lines: bool = False) -> list[str]:
    """What is wrong with ``value`` as translations, for a service's field errors."""
    try:
        translations_clean(value, max_length=max_length, lines=lines)
    except ValidationError as error:
        return [str(message) for message in error.messages]
    return []


@deconstructible
class TranslationsValidator:
    """The model field's check (``translations_clean``), so a model form refuses by field."""

    def __init__(self, max_length: int, lines: bool = False) -> None:
        self.max_length, self.lines = max_length, lines

    def __call__(self, value: Any) -> None:
        translations_clean(value, max_length=self.max_length, lines=self.lines)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TranslationsValidator) and (self.max_length, self.lines) == (
            other.max_length,
            other.lines,
        )

    def __hash__(self) -> int:
        return hash((self.max_length, self.lines))
