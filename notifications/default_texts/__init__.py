"""The texts of the shipped notification templates, one module per language, each written for
that language (``notifications.defaults`` lays them out as emails and push messages)."""

from notifications.default_texts import en, es, ru, tr
from notifications.default_texts.blocks import Language

LANGUAGES: dict[str, Language] = {
    "en": en.LANGUAGE,
    "es": es.LANGUAGE,
    "ru": ru.LANGUAGE,
    "tr": tr.LANGUAGE,
}
