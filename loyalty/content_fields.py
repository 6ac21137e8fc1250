"""The fields that hold merchant content per language (``loyalty.content``).

``TranslationsField`` is a JSON column beside the base column; in any model form (the admin's
tier, campaign and coupon template forms) it becomes ``TranslationsFormField``: one labelled
input per other language of ``settings.LANGUAGES``, empty meaning "show the base value". A form
that is not a model form (the grant form's reason) uses the form field alone.

The base value is the text in ``settings.LANGUAGE_CODE`` (English): the forms show no input of
its own for that language (it would repeat the base field), and a form's save leaves no value
for it in the translations, so English readers always read the base value the form shows.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from loyalty.content import (
    TranslationsValidator,
    content_languages,
    language_code,
    translations_clean,
)


def translated_languages() -> list[str]:
    """The languages a form asks a value for: all but the base value's own language."""
    base = language_code(settings.LANGUAGE_CODE)
    return [code for code in content_languages() if code != base]


class TranslationsWidget(forms.MultiWidget):
    """One input per language, each with its language's name as its label."""

    template_name = "loyalty/widgets/translations.html"

    def __init__(self, *, max_length: int, lines: bool = False) -> None:
        self.lines = lines
        # ``lang``: the browser spell-checks (and reads aloud) each input in its language.
        attrs: dict[str, Any] = {"maxlength": max_length}
        widgets: dict[str, forms.Widget | type[forms.Widget]] = {
            code: forms.Textarea(attrs={**attrs, "lang": code, "rows": 3, "cols": 40})
            if lines
            else forms.TextInput(attrs={**attrs, "lang": code, "size": 40})
            for code in translated_languages()
        }
        if lines:
            for widget in widgets.values():
                widget.attrs.pop("maxlength")  # the limit is per line
        super().__init__(widgets)

    def decompress(self, value: Any) -> list[Any]:
        value = value if isinstance(value, dict) else {}
        return [self._shown(value.get(code)) for code in translated_languages()]

    def _shown(self, item: Any) -> Any:
        return "\n".join(item) if self.lines and isinstance(item, list) else item

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        names = dict(settings.LANGUAGES)
        for code, sub in zip(translated_languages(), context["widget"]["subwidgets"], strict=True):
            sub["label"] = names[code]
        return context


class TranslationsFormField(forms.MultiValueField):
    """The values per language as ``{"es": ..., "ru": ...}`` (lines: lists of texts), checked
    by ``translations_clean`` so a refusal names the language."""

    def __init__(self, *, max_length: int, lines: bool = False, **kwargs: Any) -> None:
        self.max_length, self.lines = max_length, lines
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", _("In the member's language; empty: the value above is shown.")
        )
        fields = [forms.CharField(required=False, strip=True) for _code in translated_languages()]
        super().__init__(
            fields,
            widget=TranslationsWidget(max_length=max_length, lines=lines),
            require_all_fields=False,
            **kwargs,
        )

    def compress(self, data_list: list[Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for code, text in zip(translated_languages(), data_list or [], strict=False):
            if not text:
                continue
            values[code] = text.splitlines() if self.lines else text
        return translations_clean(values, max_length=self.max_length, lines=self.lines)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.clean(data) != translations_clean(
                initial or {}, max_length=self.max_length, lines=self.lines
            )
        except ValidationError:
            return True


class TranslationsField(models.JSONField):
    """A JSON object of a value per language beside a base column (``loyalty.content``)."""

    def __init__(self, *args: Any, max_length: int = 200, lines: bool = False, **kwargs: Any):
        self.lines = lines
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, max_length=max_length, **kwargs)

    @cached_property
    def validators(self) -> list[Any]:
        assert self.max_length is not None
        return [TranslationsValidator(self.max_length, self.lines), *super().validators]

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.lines:
            kwargs["lines"] = True
        return name, path, args, kwargs

    def formfield(self, **kwargs: Any) -> Any:
        assert self.max_length is not None
        options: dict[str, Any] = {"label": kwargs.get("label", capfirst(self.verbose_name))}
        if self.help_text:
            options["help_text"] = self.help_text
        return TranslationsFormField(max_length=self.max_length, lines=self.lines, **options)
