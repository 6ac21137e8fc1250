"""The rewards backoffice: coupon templates, coupons with their history, coupons issued by staff.

Invariants kept here:
- Scoped like every backoffice page (``MerchantScopedAdmin``): staff see and
  choose only their merchant's templates and coupons, even in list filters;
  superusers see everything.
- Coupons are written by the services only. The coupon page is read-only;
  voiding goes through ``coupon_void`` and issuing through
  ``rewards.services.admin_ops``, each with its reason recorded in the coupon's
  history. A refusal is reported per coupon or per row, never as a server error.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.db.models.fields.related import RelatedField
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import MerchantScopedAdmin, ReadOnlyInline
from loyalty.backoffice.params import id_param
from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id, staff_program
from loyalty.errors import IdempotencyConflict, InvalidInput, LoyaltyError
from loyalty.forms import add_service_error
from loyalty.models import Member, Program
from loyalty.roles import Permission
from loyalty.tasks import bulk_job_run_task
from rewards.codes import code_normalise
from rewards.forms import (
    CouponCsvConfirmForm,
    CouponCsvForm,
    CouponTemplateForm,
    CouponVoidForm,
)
from rewards.models import Coupon, CouponEvent, CouponTemplate, Redemption
from rewards.services.admin_ops import (
    MAX_CSV_BYTES,
    CsvRow,
    RowStatus,
    coupons_issue,
    coupons_issue_check,
    csv_rows,
    report_get,
    report_summary,
    rows_check,
)
from rewards.services.coupon_jobs import coupons_issue_job, terms_from_payload
from rewards.services.coupons import coupon_void
from rewards.services.thresholds import TERM_FIELDS
from rewards.terms import terms_text

# At most this many coupons voided by one action (each is its own transaction).
MAX_VOID = 500
# The preview lists every row that will not get a coupon, and this many that will.
PREVIEW_READY_ROWS = 100
# Bigger confirmed batches run as a bulk job (a Celery task with progress), not in the
# request: 10,000 coupons took about 24 s.
BULK_INLINE_ROWS = 500


def scoped_program(request: HttpRequest, program_id: Any = None) -> Program | None:
    """The program a user works on: a staff user's merchant's, or (superusers) the one asked."""
    if is_superuser(request):
        program_pk = id_param(str(program_id or ""))
        if program_pk is None:
            return None
        return Program.objects.select_related("merchant").filter(pk=program_pk).first()
    return staff_program(request)


# Coupon templates


@admin.register(CouponTemplate)
class CouponTemplateAdmin(MerchantScopedAdmin[CouponTemplate]):
    merchant_path = "program__merchant"
    form = CouponTemplateForm
    list_display = ("name", "terms", "valid_days", "uses", "rewards", "created_at")
    list_select_related = ("program",)
    list_filter = ("kind",)
    search_fields = ("name",)
    ordering = ("name", "pk")
    readonly_fields = ("created_at",)

    @admin.display(description=_("terms"))
    def terms(self, template: CouponTemplate) -> str:
        return terms_text(template, currency=template.program.currency)

    @admin.display(description=_("reward at"))
    def rewards(self, template: CouponTemplate) -> str:
        return ", ".join(f"{threshold.points:,} points" for threshold in template.thresholds.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponTemplate]:
        return super().get_queryset(request).prefetch_related("thresholds")

    owner_column = "program"

    def get_fields(self, request: HttpRequest, obj: CouponTemplate | None = None) -> Any:
        program = ("program",) if obj is not None or is_superuser(request) else ()
        record = ("created_at",) if obj is not None else ()
        return (*program, "name", *TERM_FIELDS, *record)

    def get_readonly_fields(self, request: HttpRequest, obj: CouponTemplate | None = None) -> Any:
        # A template's currency is its program's: it never moves to another program.
        return ("program", "created_at") if obj is not None else ()

    def get_form(
        self,
        request: HttpRequest,
        obj: CouponTemplate | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is None and not is_superuser(request):
            program = scoped_program(request)
            form_class = type(form_class.__name__, (form_class,), {"default_program": program})
        return form_class

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or (
            self._may_write(request) and scoped_program(request) is not None
        )


# Coupons


class TemplateFilter(admin.RelatedFieldListFilter):
    """The templates the user may see: another merchant's template names never appear."""

    def field_choices(
        self, field: RelatedField[Any, Any], request: HttpRequest, model_admin: Any
    ) -> Any:
        if is_superuser(request):
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to={"program__merchant_id": staff_merchant_id(request)},
        )


class CouponEventInline(ReadOnlyInline):
    model = CouponEvent
    verbose_name = _("history entry")
    verbose_name_plural = _("history")
    show_change_link = False
    fields = ("created_at", "kind", "by", "reason", "order_reference")
    readonly_fields = ("by",)
    ordering = ("id",)

    @admin.display(description=_("by"))
    def by(self, event: CouponEvent) -> str:
        # A username, not a link: staff cannot open user pages.
        return event.by.get_username() if event.by else ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponEvent]:
        # Each row's title (its __str__) names the coupon.
        return super().get_queryset(request).select_related("coupon", "by")


class RedemptionInline(ReadOnlyInline):
    model = Redemption
    show_change_link = False
    fields = ("order_reference", "order_amount", "discount", "redeemed_at", "released_at")
    ordering = ("id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Redemption]:
        return super().get_queryset(request).select_related("coupon")


@admin.register(Coupon)
class CouponAdmin(MerchantScopedAdmin[Coupon]):
    """Read-only: coupons are issued, redeemed and voided by the services."""

    merchant_path = "program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = (
        "code_shown",
        "member_shown",
        "terms",
        "status",
        "uses",
        "valid_until",
        "source",
        "created_at",
    )
    list_select_related = ("member",)
    list_filter = (
        "status",
        ("template", TemplateFilter),
        "source",
        "created_at",
        "valid_until",
    )
    search_fields = ("code",)
    search_help_text = _(
        "A coupon code, in any case, with or without dashes; or a member's exact external id."
    )
    ordering = ("-id",)
    actions = ("void",)
    inlines = (CouponEventInline, RedemptionInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "code_shown",
                    "status",
                    "member",
                    "source",
                    "reason",
                    "issued_by_name",
                    "created_at",
                )
            },
        ),
        (
            _("Terms"),
            {
                "fields": (
                    "terms",
                    "template",
                    "valid_from",
                    "valid_until",
                    "uses",
                    "currency",
                )
            },
        ),
        (_("Reward"), {"fields": ("points_spent", "order")}),
    )
    readonly_fields = ("code_shown", "member_shown", "terms", "uses", "issued_by_name")

    @admin.display(description=_("code"), ordering="code")
    def code_shown(self, coupon: Coupon) -> str:
        return coupon.display_code

    @admin.display(description=_("member"), ordering="member__external_id")
    def member_shown(self, coupon: Coupon) -> str:
        member = coupon.member
        if member is None:
            return "—"
        url = reverse("admin:loyalty_member_change", args=[member.pk])
        name = f"{member.external_id} · {member.name}" if member.name else member.external_id
        return format_html('<a href="{}">{}</a>', url, name)

    @admin.display(description=_("terms"))
    def terms(self, coupon: Coupon) -> str:
        return terms_text(coupon, currency=coupon.currency)

    @admin.display(description=_("uses"))
    def uses(self, coupon: Coupon) -> str:
        return f"{coupon.uses_count} / {coupon.uses_allowed}"

    @admin.display(description=_("issued by"))
    def issued_by_name(self, coupon: Coupon) -> str:
        # A username, not a link: staff cannot open user pages.
        return coupon.issued_by.get_username() if coupon.issued_by else ""

    owner_column = "program"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Coupon], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # An equality on the unique code, or on the (member, status) index: no scan.
        members = Member.objects.filter(external_id=term).values("pk")
        return queryset.filter(Q(code=code_normalise(term)) | Q(member__in=members)), False

    # Coupons are written by the services only.

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Coupon | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Coupon | None = None) -> bool:
        return False

    def has_void_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or self._may_write(request)

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or (
            self._may_write(request, permission=Permission.COUPONS)
            and scoped_program(request) is not None
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "issue_csv_url": reverse("admin:rewards_coupon_issue_csv")
            if self.has_issue_permission(request)
            else None,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # Void

    @admin.action(description=_("Void selected coupons"), permissions=["void"])
    def void(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> HttpResponse | None:
        """Ask for a reason (and whether points come back), then ``coupon_void`` each one."""
        coupons = list(queryset.select_related("program", "member").order_by("pk")[: MAX_VOID + 1])
        if len(coupons) > MAX_VOID:
            self.message_user(
                request,
                _("Select at most %(max)s coupons to void at once.") % {"max": MAX_VOID},
                messages.ERROR,
            )
            return None
        form = CouponVoidForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid() and self._void_each(request, coupons, form):
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Void coupons"),
            "opts": self.opts,
            "form": form,
            "coupons": [
                (coupon, terms_text(coupon, currency=coupon.currency)) for coupon in coupons
            ],
            "has_rewards": any(c.points_spent and c.member_id for c in coupons),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/rewards/coupon/void_confirmation.html", context)

    def _void_each(self, request: HttpRequest, coupons: list[Coupon], form: CouponVoidForm) -> bool:
        """Void each coupon in its own transaction; report each. False if the form was refused."""
        user = request_user(request)
        reason = form.cleaned_data["reason"]
        return_points = form.cleaned_data["return_points"]
        voided = 0
        for coupon in coupons:
            try:
                done = coupon_void(
                    program=coupon.program,
                    code=coupon.code,
                    reason=reason,
                    by=user,
                    return_points=return_points,
                )
            except InvalidInput as error:
                # About the form (the reason), so the same for every coupon: ask again.
                add_service_error(form, error)
                return False
            except LoyaltyError as error:
                self.message_user(
                    request,
                    _("%(code)s was not voided: %(why)s")
                    % {"code": coupon.display_code, "why": error.detail},
                    messages.ERROR,
                )
                continue
            voided += 1
            self.log_change(request, done, f"Voided: {reason}")
            back = done.points_spent if return_points and done.member_id else 0
            if back:
                text = _("%(code)s voided; its %(points)s points went back to %(member)s.") % {
                    "code": done.display_code,
                    "points": back,
                    "member": coupon.member.external_id if coupon.member else "",
                }
            else:
                text = _("%(code)s voided.") % {"code": done.display_code}
            self.message_user(request, text, messages.SUCCESS)
        if voided > 1:
            self.message_user(
                request,
                ngettext("%(n)s coupon voided.", "%(n)s coupons voided.", voided) % {"n": voided},
                messages.SUCCESS,
            )
        return True

    # Issue from a CSV of external ids, with a preview and a report

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
                _("Nothing was issued: %(why)s") % {"why": _details(error)},
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
                _("Nothing was issued: %(why)s") % {"why": _details(error)},
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


def _details(error: LoyaltyError) -> str:
    if isinstance(error, InvalidInput):
        return " ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.fields.items())
    return error.detail
