"""Staff actions on selected members: compensation coupons and tier overrides."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from uuid import uuid4

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import MerchantScopedAdmin
from loyalty.backoffice.scope import request_user
from loyalty.errors import IdempotencyConflict, LoyaltyError
from loyalty.forms import TierOverrideForm, add_service_error
from loyalty.models import Member, Program
from loyalty.services.tiers import tier_override
from rewards.forms import CouponIssueForm
from rewards.services.admin_ops import (
    MAX_ROWS,
    CsvRow,
    IssueReport,
    RowStatus,
    coupons_issue,
    report_summary,
    too_many_rows,
)

COUPONS_SHOWN = 20  # on a member's page, and per kind of row in a batch's messages


class MemberActionsMixin(MerchantScopedAdmin[Member]):
    """What staff do to the members they select in the list (or to one, from its page):
    issue a compensation coupon (``coupons_issue``), put them at a tier for a while
    (``tier_override``). Both work on members of one program at a time."""

    @admin.action(description=_("Issue a compensation coupon"), permissions=["change"])
    def issue_coupon(self, request: HttpRequest, queryset: QuerySet[Member]) -> HttpResponse | None:
        return self._issue_coupon(request, queryset, back_url=None)

    def coupon_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Issue a coupon to one member, from its page."""
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        change_url = reverse(
            "admin:loyalty_member_change", args=[quote(member.pk)], current_app=self.admin_site.name
        )
        members = Member.objects.filter(pk=member.pk)
        response = self._issue_coupon(request, members, back_url=change_url)
        return response or redirect(f"{change_url}#coupons")

    def _one_program(
        self, request: HttpRequest, members: QuerySet[Member]
    ) -> tuple[Program, int] | None:
        """The program of the selected members and how many they are; None (and a message)
        when they span programs or are more than a form handles."""
        programs = list(members.order_by().values_list("program_id", flat=True).distinct()[:2])
        if len(programs) != 1:
            self.message_user(
                request, _("Select members of one program at a time."), messages.ERROR
            )
            return None
        count = members.count()
        if count > MAX_ROWS:
            self.message_user(request, too_many_rows(), messages.ERROR)
            return None
        return Program.objects.select_related("merchant").get(pk=programs[0]), count

    def _issue_coupon(
        self, request: HttpRequest, members: QuerySet[Member], *, back_url: str | None
    ) -> HttpResponse | None:
        """The form (terms, reason), then ``coupons_issue``; None once issued (or refused)."""
        selection = self._one_program(request, members)
        if selection is None:
            return None
        program, count = selection
        sent = request.method == "POST" and "apply" in request.POST
        form = CouponIssueForm(
            request.POST if sent else None, program=program, initial={"key": uuid4()}
        )
        if sent and form.is_valid():
            assert form.terms is not None
            external_ids = members.order_by("pk").values_list("external_id", flat=True)
            try:
                report = coupons_issue(
                    program=program,
                    rows=[CsvRow(n, external_id) for n, external_id in enumerate(external_ids, 1)],
                    terms=form.terms,
                    reason=form.cleaned_data["reason"],
                    reason_i18n=form.cleaned_data["reason_i18n"],
                    source=form.cleaned_data["source"],
                    issued_by=request_user(request),
                    key=str(form.cleaned_data["key"]),
                    skip_already_issued=form.cleaned_data["skip_already_issued"],
                )
            except IdempotencyConflict:
                fresh = request.POST.copy()  # a fresh key, so the next send is a new batch
                fresh["key"] = str(uuid4())
                form.data = fresh
                form.add_error(
                    None,
                    _("This form was already sent with other values. Open it again to issue "
                      "another coupon."),
                )  # fmt: skip
            except LoyaltyError as error:
                add_service_error(form, error)
            else:
                self._issue_messages(request, report)
                return None
        return self._action_page(
            request,
            "admin/rewards/coupon_issue.html",
            members,
            title=_("Issue a coupon"),
            form=form,
            program=program,
            count=count,
            back_url=back_url
            or reverse("admin:loyalty_member_changelist", current_app=self.admin_site.name),
            is_action=back_url is None,
        )

    # Tier overrides by staff

    @admin.action(description=_("Override the tier"), permissions=["change"])
    def override_tier(
        self, request: HttpRequest, queryset: QuerySet[Member]
    ) -> HttpResponse | None:
        """The form (tier, until, reason), then ``tier_override`` for each selected member."""
        selection = self._one_program(request, queryset)
        if selection is None:
            return None
        program, count = selection
        sent = request.method == "POST" and "apply" in request.POST
        form = TierOverrideForm(request.POST if sent else None, program=program)
        if sent and form.is_valid():
            until = datetime.combine(
                form.cleaned_data["until"] + timedelta(days=1),
                time.min,
                timezone.get_current_timezone(),
            )
            tier = form.cleaned_data["tier"]
            try:
                with transaction.atomic():
                    for member in queryset.select_related("program__merchant").order_by("pk"):
                        tier_override(
                            member=member,
                            tier=tier,
                            reason=form.cleaned_data["reason"],
                            until=until,
                            created_by=request_user(request),
                        )
                        self.log_change(
                            request,
                            member,
                            f"Tier overridden: {tier or '-'} until {until:%Y-%m-%d}",
                        )
            except LoyaltyError as error:
                add_service_error(form, error)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(count)s member is now at %(tier)s until %(until)s.",
                        "%(count)s members are now at %(tier)s until %(until)s.",
                        count,
                    )
                    % {
                        "count": count,
                        "tier": tier or _("no tier"),
                        "until": form.cleaned_data["until"],
                    },
                    messages.SUCCESS,
                )
                return None
        return self._action_page(
            request,
            "admin/loyalty/tier_override.html",
            queryset,
            title=_("Override the tier"),
            form=form,
            count=count,
        )

    def _action_page(
        self, request: HttpRequest, template: str, members: QuerySet[Member], **context: Any
    ) -> TemplateResponse:
        """An action's form page: the first selected members, and the selection carried on
        (the checked boxes, or "all") so that applying the form acts on the same members."""
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "members": list(members.order_by("pk")[:COUPONS_SHOWN]),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across") == "1",
                **context,
            },
        )

    def _issue_messages(self, request: HttpRequest, report: IssueReport) -> None:
        """The batch's report as messages: a summary linking to the full report, then a
        line per row (up to COUPONS_SHOWN of each kind)."""
        url = reverse(
            "admin:rewards_coupon_issue_report",
            kwargs={"key": report.key},
            current_app=self.admin_site.name,
        )
        summary = report_summary(report)
        if report.replayed:
            summary = _("This form was sent before; nothing more was issued.") + " " + summary
        issued = report.counts[RowStatus.ISSUED]
        self.message_user(
            request,
            format_html('{} <a href="{}">{}</a>', summary, url, _("See the report")),
            messages.SUCCESS if issued and not report.replayed else messages.WARNING,
        )
        lines = {
            RowStatus.ISSUED: (messages.SUCCESS, _("%(member)s: coupon %(code)s issued.")),
            RowStatus.SKIPPED: (messages.WARNING, _("%(member)s: skipped. %(detail)s")),
            RowStatus.FAILED: (messages.ERROR, _("%(member)s: not issued. %(detail)s")),
        }
        for status, (level, text) in lines.items():
            rows = [row for row in report.rows if row.status == status]
            for row in rows[:COUPONS_SHOWN]:
                values = {"member": row.external_id, "code": row.code, "detail": row.detail}
                self.message_user(request, text % values, level)
            if len(rows) > COUPONS_SHOWN:
                more = len(rows) - COUPONS_SHOWN
                self.message_user(
                    request, _("… and %(n)s more: see the report.") % {"n": more}, level
                )
