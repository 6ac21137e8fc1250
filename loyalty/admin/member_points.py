"""A member's points in the admin: its ledger and the grant or deduct form.

Invariants: a grant or deduction the service refuses unconfirmed (more points than the
program's ``grant_confirmation_points``: ``points_grant``'s rule) is asked again on a second
page, and sent confirmed only for the very amount that page showed; the message afterwards
says the balance the member's page shows (after any reward the points turned into), written
the same way.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import uuid4
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import MerchantScopedAdmin
from loyalty.backoffice.formats import grouped
from loyalty.backoffice.params import int_param
from loyalty.backoffice.scope import request_user
from loyalty.errors import GrantConfirmationRequired, LoyaltyError
from loyalty.forms import PointsChangeForm, add_service_error
from loyalty.models import LedgerEntry, Member
from loyalty.services.points import GrantResult, points_grant

LEDGER_PAGE_SIZE = 25
# Far past any member's ledger, and its offset far inside PostgreSQL's bigint.
LEDGER_MAX_PAGE = 100_000


class PointsForm(PointsChangeForm):
    """The points form, with the signed amount a second page confirmed (if any)."""

    confirmed_points = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Set when the amount needs confirming: (a grant?, the points, the balance it leaves).
    confirmation: tuple[bool, int, int] | None = None

    def confirmed(self) -> bool:
        """Whether the second page confirmed this very amount (and sign): a confirmation
        holds for the amount shown, not for one typed after it."""
        return self.cleaned_data.get("confirmed_points") == self.signed_points()


_points_forms: WeakKeyDictionary[HttpRequest, PointsForm] = WeakKeyDictionary()


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
                form = PointsForm(initial={"idempotency_key": uuid4()})
            context["points_form"] = form
            context["points_confirm_above"] = member.program.grant_confirmation_points
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

        form = PointsForm(request.POST)
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
                    confirmed=form.confirmed(),
                )
            except GrantConfirmationRequired:
                return self._points_confirm(request, member, form, object_id)
            except LoyaltyError as error:
                add_service_error(form, error)
            else:
                return self._points_changed(request, member, result)
        problems = " ".join(str(m) for errors in form.errors.values() for m in errors)
        self.message_user(
            request,
            _("The points were not changed: %(problems)s") % {"problems": problems},
            messages.ERROR,
        )
        return self._member_page(request, form, object_id)

    def _member_page(self, request: HttpRequest, form: PointsForm, object_id: str) -> HttpResponse:
        """The member's page again with this form bound, so nothing typed is lost. It is
        served at the points URL, so the profile form is pointed back at its own."""
        change_url = reverse(
            "admin:loyalty_member_change", args=[object_id], current_app=self.admin_site.name
        )
        shown = copy.copy(request)
        shown.method = "GET"
        _points_forms[shown] = form
        return self.change_view(shown, object_id, form_url=change_url)

    def _points_confirm(
        self, request: HttpRequest, member: Member, form: PointsForm, object_id: str
    ) -> HttpResponse:
        """Nothing changes yet: the page asks again, the amount and its result spelled out."""
        points = form.signed_points()
        data = request.POST.copy()
        data["confirmed_points"] = str(points)
        confirming = PointsForm(data)
        confirming.is_valid()
        confirming.confirmation = (points > 0, abs(points), member.balance + points)
        return self._member_page(request, confirming, object_id)

    def _points_changed(
        self, request: HttpRequest, member: Member, result: GrantResult
    ) -> HttpResponseRedirect:
        change_url = reverse(
            "admin:loyalty_member_change", args=[quote(member.pk)], current_app=self.admin_site.name
        )
        entry = result.entry
        if not result.created:
            member.refresh_from_db(fields=["balance"])
            self.message_user(
                request,
                _("This change was already applied (the form was sent twice). Balance: %(b)s.")
                % {"b": grouped(member.balance)},
                messages.WARNING,
            )
            return redirect(f"{change_url}#points")
        verb = _("Granted") if entry.points > 0 else _("Deducted")
        self.log_change(request, member, f"{verb} {abs(entry.points)} points: {entry.reason}")
        # The balance after everything the change set off (a reward coupon takes its points
        # at once), as the page shows it, not the entry's own balance_after.
        text = ngettext(
            "%(verb)s %(points)s point. New balance: %(balance)s.",
            "%(verb)s %(points)s points. New balance: %(balance)s.",
            abs(entry.points),
        ) % {"verb": verb, "points": grouped(abs(entry.points)), "balance": grouped(result.balance)}
        coupons = len(result.coupons_issued)
        if coupons:
            text += " " + ngettext(
                "%(count)s reward coupon was issued from them.",
                "%(count)s reward coupons were issued from them.",
                coupons,
            ) % {"count": coupons}
        self.message_user(request, text, messages.SUCCESS)
        return redirect(f"{change_url}#points")
