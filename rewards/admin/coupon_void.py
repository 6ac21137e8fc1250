"""Voiding coupons from the coupon list."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import MerchantScopedAdmin
from loyalty.backoffice.scope import is_superuser, request_user
from loyalty.errors import InvalidInput, LoyaltyError
from loyalty.forms import add_service_error
from loyalty.services.coupon_voids import coupon_void
from rewards.forms import CouponVoidForm
from rewards.models import Coupon
from rewards.terms import terms_text

# At most this many coupons voided by one action (each is its own transaction).
MAX_VOID = 500


class CouponVoidMixin(MerchantScopedAdmin[Coupon]):
    """The void action: a reason (and whether points come back), then ``coupon_void`` for
    each coupon, each in its own transaction; a refusal is reported per coupon."""

    def has_void_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or self._may_write(request)

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
                    reason_i18n=form.cleaned_data["reason_i18n"],
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
