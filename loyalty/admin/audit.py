"""The audit trail and bulk jobs in the admin: visible and searchable, never editable.

Scoped like every backoffice page (``MerchantScopedAdmin``): staff see only their
merchant's entries. Nobody (not even a superuser) adds, changes or deletes an entry
here; the database refuses it anyway.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import ReadOnlyScopedAdmin
from loyalty.models import AuditEntry, BulkJob


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyScopedAdmin[AuditEntry]):
    merchant_path = "merchant"
    owner_column = "merchant"
    show_full_result_count = False
    list_display = ("created_at", "actor_name", "action", "target_repr", "changes_shown", "reason")
    list_filter = ("action", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("actor_name", "action", "target_repr", "reason")
    search_help_text = _("Who (username), what (e.g. points.grant), the target, or the reason.")
    ordering = ("-id",)
    fields = (
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "changes_shown",
        "reason",
    )
    readonly_fields = fields

    @admin.display(description=_("changes"))
    def changes_shown(self, entry: AuditEntry) -> str:
        return json.dumps(entry.changes, ensure_ascii=False, sort_keys=True)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[AuditEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return (
            queryset.filter(
                Q(actor_name=term)
                | Q(action=term)
                | Q(target_repr__icontains=term)
                | Q(reason__icontains=term)
            ),
            False,
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
