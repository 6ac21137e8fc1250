"""The API's written guides, served beside the reference (/api/docs/): the quick start and
the webhooks reference, kept as Markdown in docs/api/ so they read well on GitHub too, and
rendered here without raw HTML (the files are ours, but a page is only as safe as its
renderer's settings)."""

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

GUIDES_DIR = Path(settings.BASE_DIR) / "docs" / "api"
# URL name -> the page's title; the file is docs/api/<name>.md.
GUIDES = {"quickstart": "Quick start", "webhooks": "Webhooks"}


def guide_html(name: str) -> str:
    """The guide as HTML: CommonMark with tables, raw HTML shown as text."""
    text = (GUIDES_DIR / f"{name}.md").read_text(encoding="utf-8")
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def guide_page(request: HttpRequest, name: str) -> HttpResponse:
    if name not in GUIDES:
        raise Http404
    context = {
        "title": GUIDES[name],
        "body": mark_safe(guide_html(name)),  # noqa: S308 - raw HTML is off in the renderer
        "guides": GUIDES,
        "current": name,
    }
    return render(request, "loyalty/api_guide.html", context)
