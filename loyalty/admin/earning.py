"""The backoffice pages of earning: rules, campaigns (with the stacking rule), transfers and
members' feedback with its average. Scoped like every backoffice page; rules and campaigns
are checked by the same functions as the API (``loyalty.services.earning``) and written
through ``loyalty.services.earning_config``, which refuses any role but a manager's and
audits every add, change and delete. Viewers and support staff only read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from loyalty.admin import program_example
from loyalty.admin.base import ReadOnlyScopedAdmin, ServiceSavedAdmin
from loyalty.backoffice.scope import is_superuser, request_user, staff_program
from loyalty.builder.campaigns import CampaignForm
from loyalty.builder.rules import (
    KIND_DESCRIPTIONS,
    KIND_FIELDS,
    EarningRuleForm,
    rule_form,
    rule_summary,
)
from loyalty.models import Campaign, EarningRule, Feedback, Transfer
from loyalty.selectors import feedback_summary
from loyalty.services.earning import STACKING_RULE
from loyalty.services.earning_config import (
    campaign_delete,
    campaign_save,
    earning_rule_delete,
    earning_rule_save,
)
from loyalty.services.tiers import program_tiers


class ProgramConfigAdmin(ServiceSavedAdmin[Any]):
    """Per-program earning rules and campaigns, which managers add, change and delete
    (through ``service_save`` / ``service_delete``: services that check the role and
    audit); their lists state how rules and campaigns stack."""

    merchant_path = "program__merchant"
    owner_column = "program"
    service_save: Callable[..., Any]
    service_delete: Callable[..., None]
    # The live example of what a customer earns, with the form's values as typed.
    change_form_template = "admin/loyalty/draft_example_change_form.html"

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        examples = [
            path(
                "example/",
                self.admin_site.admin_view(self.example_view),
                name="{}_{}_add_example".format(*info),
            ),
            path(
                "<path:object_id>/example/",
                self.admin_site.admin_view(self.example_view),
                name="{}_{}_example".format(*info),
            ),
        ]
        return [*examples, *super().get_urls()]

    @method_decorator(require_POST)
    def example_view(self, request: HttpRequest, object_id: str | None = None) -> HttpResponse:
        return program_example.draft_example_view(self, request, object_id)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        editable = self.has_change_permission(request, obj) if obj else add
        program = obj.program if obj is not None else staff_program(request)
        if editable and program is not None:
            info = self.opts.app_label, self.opts.model_name
            if obj is not None:
                url = reverse("admin:{}_{}_example".format(*info), args=[obj.pk])
            else:
                url = reverse("admin:{}_{}_add_example".format(*info))
                if request.GET.get("kind"):
                    url += "?" + urlencode({"kind": request.GET["kind"]})
            context["example_url"] = url
            context["example_program"] = program
            context["example_tiers"] = [t.name for t in program_tiers(program)]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        # Staff work on their merchant's program only; superusers choose.
        return fields if is_superuser(request) else [f for f in fields if f != "program"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: Any) -> None:
        if not is_superuser(request) and obj.program_id is None:
            obj.program = staff_program(request)
        self.service_save(obj, actor=request_user(request))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.service_delete(obj, actor=request_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        # One by one, so each deletion is checked and audited.
        for obj in queryset.select_related("program"):
            self.delete_model(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) or (
            staff_program(request) is not None and self._may_write(request)
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_write(request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(
            request, {**(extra_context or {}), "subtitle": STACKING_RULE}
        )


@admin.register(EarningRule)
class EarningRuleAdmin(ProgramConfigAdmin):
    """One form per kind of rule (``loyalty.builder.rules``): adding asks the kind first."""

    form = EarningRuleForm

    @staticmethod
    def service_save(rule: EarningRule, *, actor: Any) -> Any:
        return earning_rule_save(rule=rule, actor=actor)

    @staticmethod
    def service_delete(rule: EarningRule, *, actor: Any) -> None:
        earning_rule_delete(rule=rule, actor=actor)

    list_display = ("name", "kind", "active", "what")
    list_filter = ("kind", "active")
    list_select_related = ("program",)

    @admin.display(description=_("what it does"))
    def what(self, rule: EarningRule) -> str:
        return rule_summary(rule)

    @staticmethod
    def kind_of(request: HttpRequest, obj: EarningRule | None) -> str | None:
        kind = obj.kind if obj is not None else request.GET.get("kind")
        return kind if kind in KIND_FIELDS else None

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kind = self.kind_of(request, obj)
        if kind is not None:
            kwargs["form"] = rule_form(kind)
        return super().get_form(request, obj, change, **kwargs)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        kind = self.kind_of(request, None)
        if kind is None:
            return self.kind_choice(request)
        title = _("Add a rule: %(kind)s") % {"kind": EarningRule.Kind(kind).label}
        extra = {**(extra_context or {}), "title": title, "subtitle": KIND_DESCRIPTIONS[kind]}
        return super().add_view(request, form_url, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        rule = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if rule is not None and rule.kind in KIND_DESCRIPTIONS:
            extra["subtitle"] = f"{rule.get_kind_display()}: {KIND_DESCRIPTIONS[rule.kind]}"
        return super().change_view(request, object_id, form_url, extra)

    def kind_choice(self, request: HttpRequest) -> HttpResponse:
        """The first step of adding a rule: which kind."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        kinds = [
            {"value": k.value, "label": k.label, "description": KIND_DESCRIPTIONS[k]}
            for k in EarningRule.Kind
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Add a rule: which kind?"),
            "kinds": kinds,
        }
        return TemplateResponse(request, "admin/loyalty/earningrule/kind_choice.html", context)


@admin.register(Campaign)
class CampaignAdmin(ProgramConfigAdmin):
    """Campaigns with their tiers as checkboxes and their members as named conditions."""

    form = CampaignForm

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        program = obj.program if obj is not None else staff_program(request)
        return type(form_class.__name__, (form_class,), {"program_of_page": program})

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        program = ("program",) if is_superuser(request) else ()
        return (
            (None, {"fields": (*program, "name", "name_i18n", "active")}),
            (
                _("When and how much"),
                {"fields": ("start_date", "end_date", "multiplier", "fixed_bonus",
                            "min_order_amount")},
            ),
            (
                _("For whom"),
                {"fields": ("tiers", "segment_email_endswith", "segment_since_from",
                            "segment_since_until", "segment_locales", "segment_consent_email")},
            ),
        )  # fmt: skip

    @staticmethod
    def service_save(campaign: Campaign, *, actor: Any) -> Any:
        return campaign_save(campaign=campaign, actor=actor)

    @staticmethod
    def service_delete(campaign: Campaign, *, actor: Any) -> None:
        campaign_delete(campaign=campaign, actor=actor)

    list_display = ("name", "start_date", "end_date", "multiplier", "fixed_bonus", "active")
    list_filter = ("active",)
    list_select_related = ("program",)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyScopedAdmin[Transfer]):
    merchant_path = "program__merchant"
    list_display = ("created_at", "sender", "recipient", "points", "note")
    list_select_related = ("sender", "recipient")
    search_fields = ("sender__external_id", "recipient__external_id")
    ordering = ("-id",)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyScopedAdmin[Feedback]):
    merchant_path = "program__merchant"
    list_display = ("created_at", "member", "rating", "wanted_rewards")
    list_select_related = ("member",)
    list_filter = ("rating",)
    ordering = ("-id",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        program = None if is_superuser(request) else staff_program(request)
        summary = feedback_summary(program=program)
        subtitle = (
            _("Average rating %(average)s of 5 from %(count)s answers")
            % {"average": summary.average, "count": summary.count}
            if summary.count
            else _("No answers yet")
        )
        return super().changelist_view(request, {**(extra_context or {}), "subtitle": subtitle})
