"""The audit trail and bulk jobs in the admin: visible and searchable, never editable.

Scoped like every backoffice page (``MerchantScopedAdmin``): staff see only their
merchant's entries. Nobody (not even a superuser) adds, changes or deletes an entry
here; the database refuses it anyway.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import ReadOnlyScopedAdmin
from loyalty.audit import ACTION_WORDS, action_words
from loyalty.models import AuditEntry, BulkJob

# A value longer than this (or on several lines) is folded: its start shows, the rest opens.
FOLD_CHARS = 80
SUMMARY_CHARS = 60


class ActionFilter(admin.SimpleListFilter):
    """Filter by what was done, in words (the stored codes are for search and the API)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return sorted(((code, str(words)) for code, words in ACTION_WORDS.items()),
                      key=lambda item: item[1])  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyScopedAdmin[AuditEntry]):
    merchant_path = "merchant"
    owner_column = "merchant"
    show_full_result_count = False
    list_display = ("created_at", "actor_name", "action_shown", "target", "changes_shown", "reason")
    list_filter = (ActionFilter, "created_at")
    date_hierarchy = "created_at"
    search_fields = ("actor_name", "action", "target_repr", "reason")
    search_help_text = _("Who (username), what (e.g. “points granted”), the target, or the reason.")
    ordering = ("-id",)
    fields = ("created_at", "actor_name", "action_shown", "target", "changes_shown", "reason")

    class Media:
        css = {"all": ("backoffice/audit.css",)}

    readonly_fields = fields

    @admin.display(description=_("action"), ordering="action")
    def action_shown(self, entry: AuditEntry) -> str:
        return action_words(entry.action)

    @admin.display(description=_("target"))
    def target(self, entry: AuditEntry) -> str:
        """What was changed, as a link to its page in the backoffice when it has one."""
        name = entry.target_repr or entry.target_id
        url = self._target_url(entry)
        if url is None:
            return name
        return format_html('<a href="{}">{}</a>', url, name)

    def _target_url(self, entry: AuditEntry) -> str | None:
        if not (entry.target_type and entry.target_id):
            return None
        try:
            model = apps.get_model(entry.target_type)
        except (LookupError, ValueError):
            return None
        if not self.admin_site.is_registered(model):
            return None
        meta = model._meta
        try:
            return reverse(
                f"{self.admin_site.name}:{meta.app_label}_{meta.model_name}_change",
                args=[entry.target_id],
            )
        except NoReverseMatch:
            return None

    @admin.display(description=_("changes"))
    def changes_shown(self, entry: AuditEntry) -> str:
        return changes_table(entry.changes)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[AuditEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # An action is found by its code or by its words in the staff member's language.
        codes = [code for code, words in ACTION_WORDS.items() if term.lower() in str(words).lower()]
        return (
            queryset.filter(
                Q(actor_name=term)
                | Q(action=term)
                | Q(action__in=codes)
                | Q(target_repr__icontains=term)
                | Q(reason__icontains=term)
            ),
            False,
        )


def changes_table(changes: Any) -> SafeString:
    """``{field: [before, after]}`` as a before/after table; other facts (``{field: value}``)
    as a list of their own above it, so a single value never reads as a "before". Long
    values (HTML bodies) are folded."""
    if not changes:
        return SafeString("")
    if not isinstance(changes, dict):
        return _value(changes)
    pairs = [(name, value) for name, value in changes.items() if _is_pair(value)]
    facts = [(name, value) for name, value in changes.items() if not _is_pair(value)]
    shown = SafeString("")
    if facts:
        shown += format_html(
            '<dl class="audit-facts">{}</dl>',
            format_html_join(
                "", "<div><dt>{}</dt><dd>{}</dd></div>", ((_label(n), _value(v)) for n, v in facts)
            ),
        )
    if pairs:
        rows = format_html_join("", "{}", ((_pair_row(name, value),) for name, value in pairs))
        shown += format_html(
            '<table class="audit-changes"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            gettext("field"),
            gettext("before"),
            gettext("after"),
            rows,
        )
    return format_html('<div class="audit-box">{}</div>', shown)


def _pair_row(name: str, value: list[Any]) -> SafeString:
    before, after = value
    if not (_is_long(before) or _is_long(after)):
        return format_html(
            '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
            _label(name),
            _value(before),
            _value(after),
        )
    # A long body gets the width of both columns, its before above its after.
    return format_html(
        '<tr><th scope="row">{}</th><td colspan="2" class="audit-long">'
        '<div><span class="side">{}</span> {}</div><div><span class="side">{}</span> {}</div>'
        "</td></tr>",
        _label(name),
        gettext("before"),
        _value(before),
        gettext("after"),
        _value(after),
    )


def _is_long(value: Any) -> bool:
    text = _text(value)
    return len(text) > FOLD_CHARS or "\n" in text


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _label(name: str) -> str:
    return name.replace("_", " ")


def _text(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return str(value)


def _value(value: Any) -> SafeString:
    if value is None or value == "":
        return format_html('<span class="quiet">{}</span>', "—")
    if isinstance(value, bool):
        return format_html("{}", gettext("yes") if value else gettext("no"))
    text = _text(value)
    if not _is_long(value):
        return format_html("{}", text)
    start = " ".join(text[:SUMMARY_CHARS].split())
    return format_html(
        "<details><summary>{}… <small>({})</small></summary><pre>{}</pre></details>",
        start,
        ngettext("%(count)d character", "%(count)d characters", len(text)) % {"count": len(text)},
        text,
    )


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyScopedAdmin[BulkJob]):
    merchant_path = "merchant"
    owner_column = "merchant"
    list_display = (
        "shown",
        "status",
        "progress",
        "succeeded",
        "failed",
        "created_by",
        "started_by",
        "created_at",
    )
    list_filter = ("kind", "status")
    list_select_related = ("created_by", "started_by")
    ordering = ("-id",)

    @admin.display(description=_("job"))
    def shown(self, job: BulkJob) -> str:
        return format_html(
            '<a href="{}">{}</a> {}',
            reverse("backoffice:bulk-job", args=[job.pk]),
            job,
            job.file_name,
        )

    @admin.display(description=_("progress"))
    def progress(self, job: BulkJob) -> str:
        return f"{job.processed} / {job.total}"
