"""Coupon templates: the terms reward thresholds and staff coupons copy. Managers edit them
through ``coupon_template_save`` (role checked, audited); a template's program (so its
currency) never changes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.admin.base import ServiceSavedAdmin
from loyalty.backoffice.scope import is_superuser, request_user
from rewards.admin.base import scoped_program
from rewards.forms import CouponTemplateForm
from rewards.lines import SCOPE_KEYS
from rewards.models import CouponTemplate
from rewards.services.coupon_templates import coupon_template_save
from rewards.services.reward_terms import REWARD_FIELDS
from rewards.services.thresholds import MONEY_TERM_FIELDS
from rewards.terms import terms_text


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ServiceSavedAdmin[CouponTemplate]):
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
        rewards = (name for name in REWARD_FIELDS if name != "scope")
        return (*program, "name", "name_i18n", *MONEY_TERM_FIELDS, *rewards, *SCOPE_KEYS, *record)

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

    def save_model(self, request: HttpRequest, obj: CouponTemplate, form: Any, change: Any) -> None:
        coupon_template_save(template=obj, actor=request_user(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or (
            self._may_write(request) and scoped_program(request) is not None
        )
