"""Backoffice pages outside the model admins: the dashboard's CSV, exports, bulk jobs.

Thin: each resolves the program the user works on (a staff user's merchant's; a
superuser's choice of merchant), checks the role, and calls a selector or a service.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from loyalty.backoffice.dashboard import dashboard_figures, dashboard_range, figures_csv
from loyalty.backoffice.exports import EXPORTS, export_lines
from loyalty.backoffice.scope import backoffice_program, staff_user
from loyalty.csvfiles import csv_lines
from loyalty.errors import LoyaltyError
from loyalty.forms import add_service_error
from loyalty.models import BulkJob, BulkRow, Merchant, Program
from loyalty.roles import role_allows
from loyalty.selectors import bulk_report_rows as report_rows
from loyalty.selectors.bulk import bulk_job_totals, bulk_row_cells
from loyalty.services.bulk import bulk_job_create, bulk_job_start
from loyalty.services.bulk_check import COLUMNS, MAX_CSV_BYTES, PERMISSION
from loyalty.tasks import bulk_job_run_task
from rewards.models import CouponTemplate

PREVIEW_ROWS = 200


def _program_or_404(request: HttpRequest) -> Program:
    program = backoffice_program(request)
    if program is None:
        raise Http404(_("Choose a merchant."))
    return program


def dashboard_csv_view(request: HttpRequest) -> HttpResponse:
    program = _program_or_404(request)
    start, end = dashboard_range(request.GET.get("start"), request.GET.get("end"))
    figures = dashboard_figures(program=program, start=start, end=end)
    response = HttpResponse(figures_csv(figures), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="dashboard-{program.merchant.slug}-{start}-{end}.csv"'
    )
    return response


def export_view(request: HttpRequest, kind: str) -> StreamingHttpResponse:
    if kind not in EXPORTS:
        raise Http404
    program = _program_or_404(request)
    start, end = dashboard_range(request.GET.get("start"), request.GET.get("end"))
    response = StreamingHttpResponse(
        export_lines(kind=kind, program=program, start=start, end=end),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{kind}-{program.merchant.slug}-{start}-{end}.csv"'
    )
    return response


# Bulk jobs


class BulkUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=BulkJob.Kind.choices, widget=forms.RadioSelect)
    file = forms.FileField(
        help_text=_(
            "CSV with a header line. Points: external_id, points (negative to deduct), reason. "
            "Coupons: external_id, optional reason. Members: external_id, email, name, locale."
        )
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text=_("Used for rows without a reason of their own."),
    )
    template: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text=_("Coupons: the terms of the compensation coupon."),
    )

    def __init__(self, *args: Any, program: Program, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template_field = self.fields["template"]
        assert isinstance(template_field, forms.ModelChoiceField)
        template_field.queryset = CouponTemplate.objects.filter(program=program)


def _page(request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/backoffice/{template}",
        {**admin.site.each_context(request), **context},
    )


def _job_or_404(request: HttpRequest, job_id: int) -> BulkJob:
    user = staff_user(request)
    jobs = BulkJob.objects.select_related("program__merchant", "created_by", "started_by")
    if user is None:
        raise Http404
    if not user.is_superuser:
        if user.merchant_id is None:
            raise Http404
        jobs = jobs.filter(merchant_id=user.merchant_id)
    return get_object_or_404(jobs, pk=job_id)


def bulk_upload_view(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    program = backoffice_program(request)
    if program is None and user is not None and user.is_superuser:
        # A superuser first says for which merchant.
        merchants = Merchant.objects.order_by("name").values_list("pk", "name")
        return _page(request, "bulk_upload.html", title=_("Bulk operations"), merchants=merchants)
    if program is None:
        raise Http404(_("Choose a merchant."))
    allowed = [kind for kind, permission in PERMISSION.items() if role_allows(user, permission)]
    if not allowed:
        raise PermissionDenied
    form = BulkUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        program=program,
    )
    kind_field = form.fields["kind"]
    assert isinstance(kind_field, forms.ChoiceField)
    kind_field.choices = [(k, label) for k, label in BulkJob.Kind.choices if k in allowed]
    if form.is_bound and form.is_valid():
        template: Any = form.cleaned_data["template"]
        try:
            job = bulk_job_create(
                program=program,
                kind=form.cleaned_data["kind"],
                data=form.cleaned_data["file"].read(MAX_CSV_BYTES + 1),
                file_name=form.cleaned_data["file"].name,
                params={
                    "reason": form.cleaned_data["reason"],
                    "template": template.pk if template else None,
                },
                created_by=user,
            )
        except LoyaltyError as error:
            add_service_error(form, error)
        else:
            return redirect("backoffice:bulk-job", job_id=job.pk)
    jobs = BulkJob.objects.filter(program=program).select_related("created_by").order_by("-pk")
    return _page(
        request,
        "bulk_upload.html",
        title=_("Bulk operations"),
        form=form,
        program=program,
        jobs=jobs[:20],
    )


def bulk_job_view(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job: its preview (and the confirm button), or its progress, or its report."""
    job = _job_or_404(request, job_id)
    if request.method == "POST":
        try:
            bulk_job_start(job=job, user=staff_user(request), run=bulk_job_run_task.delay)
        except LoyaltyError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, _("The job is queued; this page shows its progress."))
        return redirect("backoffice:bulk-job", job_id=job.pk)
    rows = BulkRow.objects.filter(job=job).order_by("line")
    invalid = rows.filter(status__in=[BulkRow.Status.INVALID, BulkRow.Status.FAILED])
    totals = bulk_job_totals(job=job)
    return _page(
        request,
        "bulk_job.html",
        title=str(job),
        job=job,
        program=job.program,
        columns=COLUMNS[job.kind],
        invalid_rows=_shown_rows(job, invalid[:PREVIEW_ROWS]),
        rows=_shown_rows(job, rows[:PREVIEW_ROWS]),
        totals=totals,
        running=job.status in (BulkJob.Status.QUEUED, BulkJob.Status.RUNNING),
        # Run again only what is left: a finished job (no ready row) offers nothing.
        may_run=role_allows(staff_user(request), PERMISSION.get(job.kind, "manage"))
        and totals.ready > 0,
        status_url=reverse("backoffice:bulk-job-status", args=[job.pk]),
        report_url=reverse("backoffice:bulk-job-report", args=[job.pk]),
    )


def _shown_rows(job: BulkJob, rows: Iterable[BulkRow]) -> list[dict[str, Any]]:
    return [{"row": row, "cells": bulk_row_cells(job=job, row=row)} for row in rows]


def bulk_job_status_view(request: HttpRequest, job_id: int) -> JsonResponse:
    job = _job_or_404(request, job_id)
    return JsonResponse(
        {
            "status": job.status,
            "total": job.total,
            "processed": job.processed,
            "succeeded": job.succeeded,
            "failed": job.failed,
            "percent": job.percent,
        }
    )


def bulk_job_report_view(request: HttpRequest, job_id: int) -> StreamingHttpResponse:
    job = _job_or_404(request, job_id)
    response = StreamingHttpResponse(
        csv_lines(report_rows(job=job)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="bulk-{job.pk}-report.csv"'
    return response
