"""A member's points in the admin: its ledger and the grant or deduct form."""

from __future__ import annotations

import copy
from typing import Any
from uuid import uuid4
from weakref import WeakKeyDictionary

from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import MerchantScopedAdmin
from loyalty.backoffice.params import int_param
from loyalty.backoffice.scope import request_user
from loyalty.errors import LoyaltyError
from loyalty.forms import PointsChangeForm, add_service_error
from loyalty.models import LedgerEntry, Member
from loyalty.services.points import points_grant

LEDGER_PAGE_SIZE = 25
# Far past any member's ledger, and its offset far inside PostgreSQL's bigint.
LEDGER_MAX_PAGE = 100_000

_points_forms: WeakKeyDictionary[HttpRequest, PointsChangeForm] = WeakKeyDictionary()


class MemberPointsMixin(MerchantScopedAdmin[Member]):
    """The points part of a member's page: the ledger, newest first and paged, and the form
    that grants or deducts points through ``points_grant`` (one idempotency key per form
    shown, so sending it twice applies it once)."""

    def _points_context(self, request: HttpRequest, member: Member) -> dict[str, Any]:
        page = int_param(request.GET.get("ledger_page"), default=1, low=1, high=LEDGER_MAX_PAGE)
        start = (page - 1) * LEDGER_PAGE_SIZE
        # One query per page, newest first along the (member, -id) index; one row
        # more than a page tells whether an older page exists, without a COUNT.
        rows = list(
            LedgerEntry.objects.filter(member=member)
            .select_related("created_by", "order")
            .order_by("-id")[start : start + LEDGER_PAGE_SIZE + 1]
        )
        context: dict[str, Any] = {
            "ledger_entries": rows[:LEDGER_PAGE_SIZE],
            "ledger_page": page,
            "ledger_has_older": len(rows) > LEDGER_PAGE_SIZE,
        }
        if self.has_change_permission(request, member):
            form = _points_forms.get(request)
            if form is None:
                # A fresh key per page shown: sending this form twice applies it once.
                form = PointsChangeForm(initial={"idempotency_key": uuid4()})
            context["points_form"] = form
            context["points_url"] = reverse(
                "admin:loyalty_member_points",
                args=[quote(member.pk)],
                current_app=self.admin_site.name,
            )
        return context

    def points_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Grant or deduct points (POST), through ``points_grant``."""
        member = self.get_object(request, unquote(object_id))
        if member is None:
            raise Http404
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        change_url = reverse(
            "admin:loyalty_member_change", args=[quote(member.pk)], current_app=self.admin_site.name
        )
        if request.method != "POST":
            query = request.GET.urlencode()
            return redirect(f"{change_url}?{query}" if query else change_url)

        form = PointsChangeForm(request.POST)
        if form.is_valid():
            try:
                result = points_grant(
                    program=member.program,
                    member_external_id=member.external_id,
                    points=form.signed_points(),
                    reason=form.cleaned_data["reason"],
                    reason_i18n=form.cleaned_data["reason_i18n"],
                    created_by=request_user(request),
                    idempotency_key=str(form.cleaned_data["idempotency_key"]),
                    counts_for_tier=form.cleaned_data["counts_for_tier"],
                )
            except LoyaltyError as error:
                add_service_error(form, error)
            else:
                return self._points_changed(request, member, result.entry, result.created)
        problems = " ".join(str(m) for errors in form.errors.values() for m in errors)
        self.message_user(
            request,
            _("The points were not changed: %(problems)s") % {"problems": problems},
            messages.ERROR,
        )
        # Show the member's page again with this form bound, so nothing typed is lost.
        # It is served at this URL, so the profile form is pointed back at its own.
        shown = copy.copy(request)
        shown.method = "GET"
        _points_forms[shown] = form
        return self.change_view(shown, object_id, form_url=change_url)

    def _points_changed(
        self, request: HttpRequest, member: Member, entry: LedgerEntry, created: bool
    ) -> HttpResponseRedirect:
        change_url = reverse(
            "admin:loyalty_member_change", args=[quote(member.pk)], current_app=self.admin_site.name
        )
        if not created:
            member.refresh_from_db(fields=["balance"])
            self.message_user(
                request,
                _("This change was already applied (the form was sent twice). Balance: %(b)s.")
                % {"b": member.balance},
                messages.WARNING,
            )
            return redirect(f"{change_url}#points")
        verb = _("Granted") if entry.points > 0 else _("Deducted")
        self.log_change(request, member, f"{verb} {abs(entry.points)} points: {entry.reason}")
        self.message_user(
            request,
            ngettext(
                "%(verb)s %(points)s point. New balance: %(balance)s.",
                "%(verb)s %(points)s points. New balance: %(balance)s.",
                abs(entry.points),
            )
            % {"verb": verb, "points": abs(entry.points), "balance": entry.balance_after},
            messages.SUCCESS,
        )
        return redirect(f"{change_url}#points")
