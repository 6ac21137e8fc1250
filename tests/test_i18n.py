"""The Spanish, Russian and Turkish catalogs are complete, compiled and served.

``locale/<lang>/LC_MESSAGES/django.po`` is the source; ``django.mo`` is compiled from
it and committed, so a machine without gettext has it. After adding or changing a
translatable string, run ``make messages``, translate the new entries and commit
both files: these tests fail until then.
"""

import gettext as gnu_gettext
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, ngettext, npgettext, pgettext

from loyalty.errors import CurrencyMismatch

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ["es", "ru", "tr"]
PLURAL_FORMS = {
    "es": "nplurals=2; plural=(n != 1);",
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
    "(n%100<10 || n%100>=20) ? 1 : 2);",
    "tr": "nplurals=2; plural=(n != 1);",
}
# What makemessages writes into a new catalog's header, to be replaced by real values.
HEADER_PLACEHOLDERS = ("PACKAGE", "FULL NAME", "EMAIL@ADDRESS", "YEAR-MO-DA", "LL@li.org")
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr%]")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b"}


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return self.msgctxt, self.msgid, self.msgid_plural

    @property
    def translations(self) -> list[str]:
        if self.msgid_plural is None:
            return [self.msgstr]
        return [self.msgstr_plural[n] for n in sorted(self.msgstr_plural)]


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"'), f"not a quoted string: {text}"
    assert text.endswith('"'), f"not a quoted string: {text}"
    return re.sub(r"\\(.)", lambda m: ESCAPES[m.group(1)], text[1:-1])


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (header first), without obsolete ``#~`` ones."""
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry, target = Entry(), None
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            if not line or line.startswith("#"):
                continue
            if line.startswith('"'):
                target_value = _unquote(line)
            else:
                keyword, _, rest = line.partition(" ")
                target, target_value = keyword, _unquote(rest)
                if keyword.startswith("msgstr["):
                    entry.msgstr_plural[int(keyword[7:-1])] = ""
            assert target is not None, f"{path}: a string outside any entry: {line}"
            if target.startswith("msgstr["):
                entry.msgstr_plural[int(target[7:-1])] += target_value
            else:
                setattr(entry, target, (getattr(entry, target) or "") + target_value)
        if target is not None:
            entries.append(entry)
    return entries


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "django.po"


def mo_catalog(lang: str) -> gnu_gettext.GNUTranslations:
    with (LOCALE / lang / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        return gnu_gettext.GNUTranslations(mo)


def header(entries: list[Entry]) -> dict[str, str]:
    first = entries[0]
    assert first.msgid == "", "the header must come first"
    assert first.msgctxt is None, "the header must come first"
    lines = (line.partition(":") for line in first.msgstr.splitlines() if line)
    return {name.strip(): value.strip() for name, _, value in lines}


def messages(lang: str) -> list[Entry]:
    return read_po(po_path(lang))[1:]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_header_is_filled_in(lang):
    entries = read_po(po_path(lang))
    values = header(entries)

    assert values["Language"] == lang
    assert values["Content-Type"] == "text/plain; charset=UTF-8"
    assert values["Plural-Forms"] == PLURAL_FORMS[lang]
    assert "fuzzy" not in entries[0].flags
    assert not [word for word in HEADER_PLACEHOLDERS if word in entries[0].msgstr]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_and_checked(lang):
    entries = messages(lang)
    nplurals = int(PLURAL_FORMS[lang].removeprefix("nplurals=").split(";")[0])

    assert len(entries) > 50
    assert not [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not [e.msgid for e in entries if not all(e.translations)]
    plurals = [e for e in entries if e.msgid_plural is not None]
    assert plurals
    assert not [e.msgid for e in plurals if sorted(e.msgstr_plural) != list(range(nplurals))]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_every_placeholder(lang):
    wrong = [
        (e.msgid, text)
        for e in messages(lang)
        if "python-format" in e.flags
        for text in e.translations
        if placeholders(text) != placeholders(e.msgid_plural or e.msgid)
    ]

    assert not wrong


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_the_po_file(lang):
    """``django.mo`` holds exactly the .po's translations: it was compiled after the last edit."""
    expected: dict[object, str] = {}
    for e in messages(lang):
        msgid = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"
        if e.msgid_plural is None:
            expected[msgid] = e.msgstr
        else:
            expected.update({(msgid, n): text for n, text in e.msgstr_plural.items()})

    catalog = dict(mo_catalog(lang)._catalog)  # type: ignore[attr-defined]
    catalog.pop("", None)  # the header

    assert len(catalog) == len(expected)
    assert all(catalog.values())
    assert catalog == expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_django_serves_every_translation(lang):
    plural = mo_catalog(lang).plural  # type: ignore[attr-defined]
    served, wanted = [], []
    with translation.override(lang):
        for e in messages(lang):
            if e.msgid_plural is None:
                got = gettext(e.msgid) if e.msgctxt is None else pgettext(e.msgctxt, e.msgid)
                served.append(got)
                wanted.append(e.msgstr)
                continue
            for n in (0, 1, 2, 3, 5, 11, 21, 22, 25, 101, 111):
                if e.msgctxt is None:
                    got = ngettext(e.msgid, e.msgid_plural, n)
                else:
                    got = npgettext(e.msgctxt, e.msgid, e.msgid_plural, n)
                served.append(got)
                wanted.append(e.msgstr_plural[plural(n)])

    assert served == wanted


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext")
def test_catalogs_hold_every_message_of_the_code(tmp_path):
    """The code has no translatable string missing from the catalogs, and they no stale one.

    ``makemessages`` runs on a copy of the project, as ``make messages`` would.
    """
    root = Path(settings.BASE_DIR)
    skip = {"tests", "bench", "var", "node_modules", "test-artifacts", "__pycache__", "db.sqlite3"}
    copy = tmp_path / "project"
    shutil.copytree(
        root,
        copy,
        ignore=lambda _, names: [n for n in names if n.startswith(".") or n in skip],
    )
    command = [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-obsolete"]
    made = subprocess.run(  # noqa: S603 (our own interpreter and manage.py, fixed arguments)
        [*command, "--ignore=.venv", "--ignore=tests", "--ignore=bench"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    in_code = {e.key for e in read_po(copy / "locale" / "es" / "LC_MESSAGES" / "django.po")[1:]}

    for lang in LANGUAGES:
        assert {e.key for e in messages(lang)} == in_code, f"run `make messages` ({lang})"


ORDER_IN_USD = {"external_id": "A-1", "member": "cust-1", "amount": "10.00", "currency": "USD"}


def currency_mismatch_detail(lang: str | None, program) -> str:
    """What gettext makes of CurrencyMismatch's message in ``lang`` (None: untranslated)."""
    with translation.override(None):
        msgid = str(CurrencyMismatch.message)
    with translation.override(lang):
        return gettext(msgid) % {"expected": program.currency, "given": "USD"}


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_api_error_detail_follows_accept_language(api, program, lang):
    assert program.currency != "USD"

    response = api.post("/api/v1/orders", ORDER_IN_USD, format="json", HTTP_ACCEPT_LANGUAGE=lang)

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "currency_mismatch"
    assert response.json()["detail"] == currency_mismatch_detail(lang, program)
    assert response.json()["detail"] != currency_mismatch_detail(None, program)
    assert response["Content-Language"] == lang


@pytest.mark.django_db
def test_api_error_detail_is_english_without_accept_language(api, program):
    response = api.post("/api/v1/orders", ORDER_IN_USD, format="json")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "currency_mismatch"
    assert response.json()["detail"] == currency_mismatch_detail(None, program)
    assert response.json()["detail"] == currency_mismatch_detail("en", program)
    assert response["Content-Language"] == "en"
