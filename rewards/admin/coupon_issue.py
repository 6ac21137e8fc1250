"""Coupons issued by staff from a CSV of external ids, with a preview and a report."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import MerchantScopedAdmin
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.errors import IdempotencyConflict, LoyaltyError
from loyalty.forms import add_service_error
from loyalty.models import Program
from loyalty.roles import Permission
from loyalty.tasks import bulk_job_run_task
from rewards.admin.base import error_details, scoped_program
from rewards.forms import CouponCsvConfirmForm, CouponCsvForm
from rewards.models import Coupon
from rewards.selectors import report_get
from rewards.services.admin_ops import (
    MAX_CSV_BYTES,
    CsvRow,
    RowStatus,
    coupons_issue,
    coupons_issue_check,
    csv_rows,
    report_summary,
    rows_check,
)
from rewards.services.coupon_jobs import coupons_issue_job, terms_from_payload
from rewards.terms import terms_text

# The preview lists every row that will not get a coupon, and this many that will.
PREVIEW_READY_ROWS = 100
# Bigger confirmed batches run as a bulk job (a Celery task with progress), not in the
# request: 10,000 coupons took about 24 s.
BULK_INLINE_ROWS = 500


class CouponIssueMixin(MerchantScopedAdmin[Coupon]):
    """Issue a coupon to each member of a CSV of external ids: upload, a preview of every
    row, confirmation, then the report (small batches in the request, big ones as a bulk job
    with progress)."""

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or (
            self._may_write(request, permission=Permission.COUPONS)
            and scoped_program(request) is not None
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("issue-csv/", view(self.issue_csv_view), name="rewards_coupon_issue_csv"),
            path(
                "issue-report/<uuid:key>/",
                view(self.issue_report_view),
                name="rewards_coupon_issue_report",
            ),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"admin/rewards/coupon/{template}",
            {**self.admin_site.each_context(request), "opts": self.opts, **context},
        )

    def issue_csv_view(self, request: HttpRequest) -> HttpResponse:
        """Upload (GET, POST) → preview of every row (POST) → confirm (POST) → report."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        program_id = request.GET.get("program")
        program = scoped_program(request, program_id)
        if program is None:
            if program_id:
                raise Http404
            # A superuser first says for which program.
            programs = Program.objects.select_related("merchant").order_by("name")
            return self._page(
                request, "issue_csv.html", title=_("Issue coupons from a CSV"), programs=programs
            )
        if request.method == "POST" and "confirm" in request.POST:
            return self._issue_confirmed(request, program)
        form = CouponCsvForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            program=program,
        )
        if form.is_bound and form.is_valid():
            preview = self._issue_preview(request, program, form)
            if preview is not None:
                return preview
        return self._page(
            request,
            "issue_csv.html",
            title=_("Issue coupons from a CSV"),
            form=form,
            program=program,
            max_mb=MAX_CSV_BYTES // 10**6,
        )

    def _issue_preview(
        self, request: HttpRequest, program: Program, form: CouponCsvForm
    ) -> HttpResponse | None:
        """What each row would get; nothing written. None if the form was refused."""
        upload = form.cleaned_data["file"]
        reason = form.cleaned_data["reason"]
        skip = form.cleaned_data["skip_already_issued"]
        assert form.terms is not None
        try:
            # One byte more than allowed is enough for csv_rows to refuse a file too large.
            rows = csv_rows(upload.read(MAX_CSV_BYTES + 1))
            coupons_issue_check(
                program=program,
                terms=form.terms,
                reason=reason,
                source=form.cleaned_data["source"],
                rows=len(rows),
                issued_by=request_user(request),
            )
        except LoyaltyError as error:
            add_service_error(form, error)
            return None
        outcomes = rows_check(program=program, rows=rows, reason=reason, skip_already_issued=skip)
        ready = [o for o in outcomes if o.status == RowStatus.READY]
        payload = CouponCsvConfirmForm.sign(
            {
                "program": program.pk,
                "key": str(uuid.uuid4()),
                "rows": [[row.line, row.external_id] for row in rows],
                "terms": form.terms_payload(),
                "reason": reason,
                "reason_i18n": form.cleaned_data["reason_i18n"],
                "source": form.cleaned_data["source"],
                "skip": skip,
                "file": upload.name,
            }
        )
        return self._page(
            request,
            "issue_csv_preview.html",
            title=_("Check the rows before issuing"),
            program=program,
            file_name=upload.name,
            terms=terms_text(form.terms, currency=program.currency),
            reason=reason,
            source=Coupon.Source(form.cleaned_data["source"]).label,
            total=len(outcomes),
            ready_count=len(ready),
            ready_rows=ready[:PREVIEW_READY_ROWS],
            other_rows=[o for o in outcomes if o.status != RowStatus.READY],
            confirm=CouponCsvConfirmForm(initial={"payload": payload}),
        )

    def _issue_confirmed(self, request: HttpRequest, program: Program) -> HttpResponse:
        here = request.get_full_path()
        confirm = CouponCsvConfirmForm(request.POST)
        if not confirm.is_valid():
            for error in confirm.errors.get("payload", []):
                self.message_user(request, str(error), messages.ERROR)
            return redirect(here)
        data = confirm.cleaned_data["payload"]
        if data["program"] != program.pk:
            raise PermissionDenied
        if len(data["rows"]) > BULK_INLINE_ROWS:
            return self._issue_in_background(request, program, data)
        try:
            report = coupons_issue(
                program=program,
                rows=[CsvRow(line, external_id) for line, external_id in data["rows"]],
                terms=terms_from_payload(data["terms"], program=program),
                reason=data["reason"],
                reason_i18n=data.get("reason_i18n"),
                source=data["source"],
                issued_by=request_user(request),
                key=data["key"],
                skip_already_issued=data["skip"],
            )
        except IdempotencyConflict:
            self.message_user(
                request, _("This batch was already sent with other values."), messages.ERROR
            )
            return redirect(here)
        except LoyaltyError as error:
            self.message_user(
                request,
                _("Nothing was issued: %(why)s") % {"why": error_details(error)},
                messages.ERROR,
            )
            return redirect(here)
        if report.replayed:
            self.message_user(
                request,
                _("This batch was sent before; nothing more was issued. Its report:"),
                messages.WARNING,
            )
        else:
            self.message_user(request, report_summary(report), messages.SUCCESS)
        return redirect("admin:rewards_coupon_issue_report", key=report.key)

    def _issue_in_background(
        self, request: HttpRequest, program: Program, data: dict[str, Any]
    ) -> HttpResponse:
        """A big batch runs as a bulk job (a Celery task) with a progress bar and a report."""
        try:
            job = coupons_issue_job(
                program=program,
                rows=[(line, external_id) for line, external_id in data["rows"]],
                terms=data["terms"],
                reason=data["reason"],
                reason_i18n=data.get("reason_i18n"),
                source=data["source"],
                skip_already_issued=data["skip"],
                key=data["key"],
                created_by=request_user(request),
                file_name=data.get("file") or "",
                run=bulk_job_run_task.delay,
            )
        except LoyaltyError as error:
            self.message_user(
                request,
                _("Nothing was issued: %(why)s") % {"why": error_details(error)},
                messages.ERROR,
            )
            return redirect(request.get_full_path())
        self.message_user(
            request,
            _("The coupons are being issued in the background; this page shows the progress."),
            messages.SUCCESS,
        )
        return redirect("backoffice:bulk-job", job_id=job.pk)

    def issue_report_view(self, request: HttpRequest, key: Any) -> HttpResponse:
        """A batch's per-row report (HTML, or CSV with ``?format=csv``)."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        merchant_id = None if is_superuser(request) else staff_merchant_id(request)
        report = report_get(key=str(key), merchant_id=merchant_id)
        if report is None:
            raise Http404(_("No such report, or it is older than its retention time."))
        if request.GET.get("format") == "csv":
            response = HttpResponse(report.csv(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="coupons-{key}.csv"'
            return response
        order = {RowStatus.FAILED: 0, RowStatus.SKIPPED: 1, RowStatus.ISSUED: 2}
        return self._page(
            request,
            "issue_report.html",
            title=_("Coupons issued: report"),
            report=report,
            kept_hours=settings.IDEMPOTENCY_TTL_HOURS,
            summary=report_summary(report),
            rows=sorted(report.rows, key=lambda row: (order.get(row.status, 3), row.line)),
            source=Coupon.Source(report.source).label
            if report.source in Coupon.Source.values
            else report.source,
        )
