"""No page template or admin code carries inline code the Content-Security-Policy refuses.

Scripts and styles come from static files; an inline ``<script>`` or ``<style>`` must carry
the response's nonce; ``style="..."`` attributes, ``on...=`` handlers and ``javascript:``
links are never allowed (no nonce can make them run). Emails are not pages: their
templates (and the shipped email HTML in notifications/defaults.py) keep inline styles.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [
    ROOT / "templates",
    *(ROOT / app / "templates" for app in ("loyalty", "rewards", "notifications")),
]
CODE_DIRS = [ROOT / app for app in ("loyalty", "rewards", "notifications", "config")]
EMAIL_CODE = {ROOT / "notifications" / "defaults.py"}
COMMENTS = re.compile(r"\{% comment %\}.*?\{% endcomment %\}|\{#.*?#\}", re.S)
REFUSED = {
    "inline script without the nonce": re.compile(
        r"<script\b(?![^>]*\bsrc=)(?![^>]*\bnonce=)[^>]*>", re.I
    ),
    "inline style without the nonce": re.compile(r"<style\b(?![^>]*\bnonce=)[^>]*>", re.I),
    "style attribute": re.compile(r"""<[a-z][^>]*\sstyle\s*=\s*["'{]""", re.I),
    "event handler attribute": re.compile(r"""<[a-z][^>]*\son[a-z]+\s*=\s*["']""", re.I),
    "javascript: link": re.compile(r"javascript:", re.I),
}


def _page_templates() -> list[Path]:
    found = [
        path
        for folder in TEMPLATE_DIRS
        if folder.exists()
        for path in folder.rglob("*.html")
        if "email" not in path.relative_to(folder).parts
    ]
    assert len(found) > 20
    return sorted(found)


def _code_files() -> list[Path]:
    return sorted(
        path
        for folder in CODE_DIRS
        for path in folder.rglob("*.py")
        if "migrations" not in path.parts and path not in EMAIL_CODE
    )


def _problems(text: str) -> list[str]:
    text = COMMENTS.sub("", text)
    return [
        f"{what}: {match.group(0)[:80]}"
        for what, pattern in REFUSED.items()
        for match in pattern.finditer(text)
    ]


@pytest.mark.parametrize("path", _page_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_template_has_no_inline_code_the_policy_refuses(path):
    assert _problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_code_writes_no_inline_code_the_policy_refuses(path):
    assert _problems(path.read_text(encoding="utf-8")) == []


def test_the_check_itself_finds_each_kind_of_inline_code():
    page = """
        <script>alert(1)</script> <script src="/static/a.js"></script>
        <style>p {}</style> <style nonce="{{ CSP_NONCE }}">p {}</style>
        <p style="color: red">x</p> <a href="javascript:go()" onclick="go()">x</a>
        {% comment %}<style>ignored</style>{% endcomment %}
    """
    found = [problem.split(":")[0] for problem in _problems(page)]

    assert sorted(found) == sorted(
        [
            "inline script without the nonce",
            "inline style without the nonce",
            "style attribute",
            "event handler attribute",
            "javascript",
        ]
    )
