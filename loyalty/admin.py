"""The merchant backoffice: the Django admin, scoped to the staff member's merchant.

Invariants kept here:
- A staff user with a merchant sees and changes only that merchant's objects.
  Every admin declares the path from its model to the merchant
  (``merchant_path``), and ``MerchantScopedAdmin`` uses it for the querysets,
  the foreign-key choices and the object permissions, so another merchant's
  object is "not found", never shown. Superusers see everything.
- Writes go through the services (``loyalty.services``, ``rewards.services``);
  a service's refusal is shown on the form, never as a server error. The
  ledger, orders and refunds are read-only here, and a balance is never editable.
"""

from __future__ import annotations

import copy
from datetime import datetime, time, timedelta
from typing import Any, ClassVar, Generic, TypeVar
from uuid import uuid4
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Model, Q, QuerySet
from django.db.models.fields.related import ForeignKey
from django.forms import BaseInlineFormSet, ModelChoiceField
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty.backoffice.filters import MEMBER_FILTERS
from loyalty.backoffice.params import int_param
from loyalty.errors import IdempotencyConflict, LoyaltyError
from loyalty.forms import (
    ApiKeyCreateForm,
    MerchantCreateForm,
    PointsChangeForm,
    ProgramForm,
    TierForm,
    TierOverrideForm,
    add_service_error,
)
from loyalty.models import (
    ApiKey,
    LedgerEntry,
    Member,
    Merchant,
    Order,
    Program,
    Refund,
    Tier,
    TierChange,
    User,
)
from loyalty.services.api_keys import api_key_create, api_key_revoke
from loyalty.services.members import member_upsert
from loyalty.services.merchants import PROGRAM_FIELDS, merchant_create, program_update
from loyalty.services.points import points_grant
from loyalty.services.roles import Permission, role_allows
from loyalty.services.tiers import tier_override, tiers_replace
from loyalty.services.two_factor import totp_reset
from rewards.forms import CouponIssueForm
from rewards.models import Coupon
from rewards.services.admin_ops import (
    MAX_ROWS,
    CsvRow,
    IssueReport,
    RowStatus,
    coupons_issue,
    report_summary,
    too_many_rows,
)
from rewards.services.thresholds import thresholds_replace
from rewards.terms import terms_text

admin.site.site_header = _("Loyalty backoffice")
admin.site.site_title = _("Loyalty backoffice")
admin.site.index_title = _("Backoffice")

_ModelT = TypeVar("_ModelT", bound=Model)

LEDGER_PAGE_SIZE = 25
# Far past any member's ledger, and its offset far inside PostgreSQL's bigint.
LEDGER_MAX_PAGE = 100_000
COUPONS_SHOWN = 20  # on a member's page, and per kind of row in a batch's messages


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


def _is_superuser(request: HttpRequest) -> bool:
    user = _user(request)
    return user is not None and user.is_superuser


def _staff_merchant_id(request: HttpRequest) -> int | None:
    """The merchant a (non-super) staff user works for; None if they may see nothing."""
    user = _user(request)
    if user is None or not user.is_staff or user.is_superuser:
        return None
    return user.merchant_id


def staff_program(request: HttpRequest) -> Program | None:
    """The program of a (non-super) staff user's merchant, read once per request: many
    admins ask for it (their add buttons on the admin's home)."""
    if not hasattr(request, "_staff_program"):
        merchant_id = _staff_merchant_id(request)
        request._staff_program = (  # type: ignore[attr-defined]
            None
            if merchant_id is None
            else Program.objects.select_related("merchant").filter(merchant_id=merchant_id).first()
        )
    return request._staff_program  # type: ignore[attr-defined]


def _copy_saved(target: Model, saved: Model) -> None:
    """Make the admin's ``obj`` the row a service saved, so logging and redirects see it."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class MerchantScopedAdmin(admin.ModelAdmin, Generic[_ModelT]):
    """An admin whose objects belong to one merchant each, found through ``merchant_path``.

    Staff of a merchant may view its objects, and change them when their role allows
    ``write_permission`` (``loyalty.services.roles``), but not add or delete them unless
    an admin says so; superusers keep Django's rules.
    ``superuser_only`` admins are hidden from merchant staff altogether.
    """

    merchant_path: ClassVar[str]
    # The column that tells a superuser (who sees every merchant) whose row it is.
    owner_column: ClassVar[str | None] = None
    superuser_only: ClassVar[bool] = False
    # What the staff user's role must allow to change (add, delete) these objects.
    write_permission: ClassVar[str] = Permission.MANAGE

    # Scope

    def get_queryset(self, request: HttpRequest) -> QuerySet[_ModelT]:
        queryset = super().get_queryset(request)
        if _is_superuser(request):
            return queryset
        merchant_id = _staff_merchant_id(request)
        if merchant_id is None or self.superuser_only:
            return queryset.none()
        return queryset.filter(**{self.merchant_path: merchant_id})

    def get_list_display(self, request: HttpRequest) -> Any:
        if self.owner_column and _is_superuser(request):
            return (*self.list_display, self.owner_column)
        return self.list_display

    def merchant_id_of(self, obj: _ModelT) -> int | None:
        """Follow ``merchant_path`` on an object; the last hop reads the id, not the row."""
        *hops, last = self.merchant_path.split("__")
        target: Any = obj
        for hop in hops:
            target = getattr(target, hop)
        field = target._meta.pk if last == "pk" else target._meta.get_field(last)
        merchant_id: int | None = getattr(target, field.attname)
        return merchant_id

    def _in_scope(self, request: HttpRequest, obj: _ModelT | None) -> bool:
        merchant_id = _staff_merchant_id(request)
        if merchant_id is None or self.superuser_only:
            return False
        return obj is None or self.merchant_id_of(obj) == merchant_id

    def _may_write(
        self, request: HttpRequest, obj: _ModelT | None = None, permission: str | None = None
    ) -> bool:
        """In scope, and the staff user's role allows the change (superusers: always)."""
        if _is_superuser(request):
            return True
        return self._in_scope(request, obj) and role_allows(
            _user(request), permission or self.write_permission
        )

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        # Offer only what the user could open in the admin: another merchant's
        # rows must not even appear as choices.
        if "queryset" not in kwargs and not _is_superuser(request):
            related = db_field.remote_field.model
            try:
                related_admin = self.admin_site.get_model_admin(related)
            except NotRegistered:
                related_admin = None
            if isinstance(related_admin, MerchantScopedAdmin):
                kwargs["queryset"] = related_admin.get_queryset(request)
            else:
                kwargs["queryset"] = related._default_manager.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Permissions: merchant staff need no Django model permissions, only a merchant.

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = super().get_list_filter(request)
        if _is_superuser(request) and not self.superuser_only:
            return (self.merchant_path, *filters)
        return filters

    def has_module_permission(self, request: HttpRequest) -> bool:
        if _is_superuser(request):
            return super().has_module_permission(request)
        return self._in_scope(request, None)

    def has_view_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        if _is_superuser(request):
            return super().has_view_permission(request, obj)
        return self._in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        if _is_superuser(request):
            return super().has_change_permission(request, obj)
        return self._may_write(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return _is_superuser(request) and super().has_delete_permission(request, obj)


_refusals: WeakKeyDictionary[HttpRequest, LoyaltyError] = WeakKeyDictionary()


class ServiceSavedAdmin(MerchantScopedAdmin[_ModelT]):
    """An admin whose ``save_model`` calls a service that may refuse the change.

    The refusal rolls back the whole save (the admin's transaction), and the
    form is shown again, bound to what was typed, with the refusal as its
    error: on the field named by ``service_error_fields`` for the error's code,
    on the fields an ``InvalidInput`` names, or above the form.
    """

    service_error_fields: ClassVar[dict[str, str]] = {}

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except LoyaltyError as error:
            if request.method != "POST" or request in _refusals:
                raise
            _refusals[request] = error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: _ModelT | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[_ModelT]]:
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal = _refusals.get(request)
        if refusal is None:
            return form_class
        show_refusal = self.show_refusal

        def clean(form: forms.ModelForm[_ModelT]) -> dict[str, Any] | None:
            cleaned = form_class.clean(form)
            show_refusal(form, refusal)
            return cleaned

        refused: type[forms.ModelForm[_ModelT]] = type(
            form_class.__name__, (form_class,), {"clean": clean}
        )
        return refused

    def show_refusal(self, form: forms.ModelForm[_ModelT], refusal: LoyaltyError) -> None:
        add_service_error(form, refusal, self.service_error_fields)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page (already scoped), read-only."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request) or _staff_merchant_id(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Tenants and logins: superusers only.


@admin.register(Merchant)
class MerchantAdmin(ServiceSavedAdmin[Merchant]):
    merchant_path = "pk"
    superuser_only = True
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at",)

    def get_fields(self, request: HttpRequest, obj: Merchant | None = None) -> Any:
        if obj is None:
            return ("slug", "name", "currency")
        return ("slug", "name", "brand_colour", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Merchant | None = None) -> Any:
        return ("slug", "created_at") if obj is not None else ()

    def get_form(
        self, request: HttpRequest, obj: Merchant | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Merchant]]:
        if obj is None:
            kwargs["form"] = MerchantCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Merchant, form: Any, change: Any) -> None:
        if change:
            obj.save(update_fields=["name", "brand_colour"])
            return
        merchant = merchant_create(
            slug=form.cleaned_data["slug"],
            name=form.cleaned_data["name"],
            currency=form.cleaned_data["currency"],
        )
        _copy_saved(obj, merchant)

    def has_delete_permission(self, request: HttpRequest, obj: Merchant | None = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(MerchantScopedAdmin[User], DjangoUserAdmin):
    merchant_path = "merchant"
    superuser_only = True
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Merchant"), {"fields": ("merchant", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        # A new login is a manager; its role is set on its page.
        (_("Merchant"), {"fields": ("merchant", "is_staff")}),
    )
    list_display = (
        "username",
        "email",
        "merchant",
        "role",
        "is_staff",
        "is_superuser",
        "is_active",
    )
    list_filter = ("merchant", "role", "is_staff", "is_superuser", "is_active")
    list_select_related = ("merchant",)


# The program


class OptionalInlineFormSet(BaseInlineFormSet):
    """An inline that a POST may leave out (an older form, a script sending the settings
    only): it is then unbound and changes nothing, instead of failing the whole save."""

    def __init__(self, data: Any = None, files: Any = None, *args: Any, **kwargs: Any) -> None:
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        if data is not None and f"{prefix}-TOTAL_FORMS" not in data:
            data = files = None
        super().__init__(data, files, *args, **kwargs)

    def is_valid(self) -> bool:
        return super().is_valid() if self.is_bound else True


def _saved_nothing(formset: Any) -> None:
    """What the admin's change message reads from a formset it did not save itself."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class TierInline(admin.TabularInline):
    """The program's tiers, lowest first; saved as a whole by ``tiers_replace``."""

    model = Tier
    form = TierForm
    formset = OptionalInlineFormSet
    extra = 0
    ordering = ("min_points",)
    verbose_name = _("tier")
    verbose_name_plural = _(
        "Tiers: reached by points earned within the window (and a rating, if set); lost only "
        "when the daily job finds the member below, after the program's grace days"
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_superuser(request) or _staff_merchant_id(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)


@admin.register(Program)
class ProgramAdmin(ServiceSavedAdmin[Program]):
    """A program's settings and, below them, its reward thresholds (``ProgramForm``)."""

    merchant_path = "merchant"
    form = ProgramForm
    change_form_template = "admin/rewards/program_change_form.html"
    service_error_fields = {"currency_locked": "currency"}
    list_display = ("name", "merchant", "currency", "earn_rate", "points_validity_days")
    list_select_related = ("merchant",)
    readonly_fields = ("shop", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("shop", "name")}),
        (
            _("Earning"),
            {
                "fields": (
                    "currency",
                    "earn_rate",
                    "earn_on_discount",
                    "earn_on_shipping",
                    "earn_on_tax",
                    "earn_on_gift_card",
                    "pending_days",
                )
            },
        ),
        (
            _("Validity and reminders"),
            {
                "fields": (
                    "points_validity_days",
                    "reset_validity_on_order",
                    "reminder_offsets_days",
                )
            },
        ),
        (_("Rewards"), {"fields": ("conversion_mode", "refund_after_conversion")}),
        (
            _("Time zone and transfers"),
            {
                "fields": (
                    "time_zone",
                    "transfers_enabled",
                    "transfer_min_points",
                    "transfer_monthly_limit",
                )
            },
        ),
        (_("Tiers"), {"fields": ("tier_grace_days", "tier_notice_days")}),
        (
            _("Backoffice"),
            {
                "fields": (
                    "point_value",
                    "support_grant_limit",
                    "support_coupon_max_amount",
                    "support_coupon_max_percent",
                    "support_coupon_max_days",
                    "support_daily_member_limit",
                    "support_job_limit",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at")}),
    )
    inlines = (TierInline,)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        if formset.model is not Tier:
            super().save_formset(request, form, formset, change)
            return
        _saved_nothing(formset)
        if not formset.is_bound or not formset.has_changed():
            return
        rows = [
            {
                "id": row.instance.pk,
                **{name: row.cleaned_data[name] for name in TierForm.Meta.fields},
            }
            for row in formset.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE")
        ]
        # In the admin's transaction: a refused tier undoes the settings too.
        tiers_replace(program=form.instance, tiers=rows, actor=_user(request))

    @admin.display(description=_("merchant"))
    def shop(self, program: Program) -> str:
        # Plain text, not the usual link: merchant pages are for superusers only.
        return str(program.merchant)

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: Any) -> None:
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in PROGRAM_FIELDS
        }
        if changes:
            _copy_saved(obj, program_update(program=obj, actor=_user(request), **changes))
        if isinstance(form, ProgramForm) and form.thresholds_changed():
            # In the admin's transaction: a refused threshold undoes the settings too.
            thresholds_replace(
                program=obj, thresholds=form.thresholds_payload(), actor=_user(request)
            )

    def show_refusal(self, form: forms.ModelForm[Program], refusal: LoyaltyError) -> None:
        if isinstance(form, ProgramForm):
            form.add_service_error(refusal, self.service_error_fields)
        else:
            super().show_refusal(form, refusal)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A program comes with its merchant (``merchant_create``).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Program | None = None) -> bool:
        return False


# Members, with their ledger and the points form


_points_forms: WeakKeyDictionary[HttpRequest, PointsChangeForm] = WeakKeyDictionary()

PROFILE_FIELDS = ("email", "name", "locale", "consent_email", "consent_push", "birth_date")


def _search_member(term: str, prefix: str = "") -> Q:
    """A member by exact external id, whole e-mail address, or part of the name.

    A whole address is an equality, so (program, email) index answers it; the
    lower-cased variant finds addresses stored in lower case.
    """
    external_id = Q(**{f"{prefix}external_id": term})
    if "@" in term:
        return external_id | Q(**{f"{prefix}email__in": {term, term.lower()}})
    return external_id | Q(**{f"{prefix}name__icontains": term})


class TierListFilter(admin.SimpleListFilter):
    """Members per tier, with how many hold each (one grouped query)."""

    title = _("tier")
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        tiers = Tier.objects.select_related("program").order_by("program_id", "min_points")
        if not _is_superuser(request):
            tiers = tiers.filter(program__merchant_id=_staff_merchant_id(request) or 0)
        counts = dict(
            Member.objects.filter(tier__in=tiers)
            .values("tier")
            .annotate(n=Count("id"))
            .values_list("tier", "n")
        )
        if not counts and not tiers:
            return []  # no tiers: Django leaves the filter out
        return [("none", str(_("no tier")))] + [
            (str(t.pk), f"{t.name} ({counts.get(t.pk, 0)})") for t in tiers
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "none":
            return queryset.filter(tier__isnull=True)
        if value and value.isdigit():
            return queryset.filter(tier_id=int(value))
        return queryset


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    formset = OptionalInlineFormSet
    fields = ("created_at", "kind", "from_name", "to_name", "reason", "until", "created_by")
    readonly_fields = fields
    ordering = ("-id",)
    show_change_link = False
    verbose_name = _("tier change")
    verbose_name_plural = _("tier history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TierChange]:
        return super().get_queryset(request).select_related("created_by")


@admin.register(Member)
class MemberAdmin(ServiceSavedAdmin[Member]):
    merchant_path = "program__merchant"
    change_form_template = "admin/rewards/member_change_form.html"
    actions = ("issue_coupon", "override_tier")
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = (
        "external_id", "name", "email", "balance", "tier", "last_order_at", "points_expire_at",
    )  # fmt: skip
    list_select_related = ("program", "tier")
    write_permission = Permission.MEMBERS
    list_filter = (TierListFilter, *MEMBER_FILTERS, "consent_email", "consent_push", "locale")
    inlines = (TierChangeInline,)
    search_fields = ("external_id", "email", "name")
    search_help_text = _("Exact external id, a whole e-mail address, or part of the name.")
    ordering = ("-id",)
    readonly_fields = (
        "external_id",
        "program",
        "referred_by",
        "balance",
        "pending",
        "points_expire_at",
        "last_order_at",
        "login",
        "created_at",
        "updated_at",
        "tier",
        "tier_since",
        "rating",
        "tier_override_until",
        "tier_override_reason",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "external_id",
                    "program",
                    "balance",
                    "pending",
                    "points_expire_at",
                    "last_order_at",
                    "referred_by",
                )
            },
        ),
        (
            _("Tier"),
            {
                "fields": (
                    "tier",
                    "tier_since",
                    "rating",
                    "tier_override_until",
                    "tier_override_reason",
                ),
                "description": _(
                    "To put this member at another tier for a while, select it in the member "
                    "list and use the action 'Override the tier'."
                ),
            },
        ),
        (_("Profile"), {"fields": PROFILE_FIELDS}),
        (_("Record"), {"fields": ("login", "created_at", "updated_at")}),
    )

    @admin.display(description=_("login"))
    def login(self, member: Member) -> str:
        return member.user.get_username() if member.user_id and member.user else "—"

    owner_column = "program"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Member], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(_search_member(term)), False

    def get_readonly_fields(self, request: HttpRequest, obj: Member | None = None) -> Any:
        # The email address is the key to the member's profile page: a manager's to change.
        readonly = super().get_readonly_fields(request, obj)
        if role_allows(_user(request), Permission.MANAGE):
            return readonly
        return (*readonly, "email")

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: Any) -> None:
        # Through the service, which writes the changed profile columns only (a save from
        # this page can never move the balance a concurrent order just changed), checks the
        # role and records the change. A read-only field is not in the form: ``obj`` holds
        # the member's value, as read for this page.
        member, _ = member_upsert(
            program=obj.program,
            external_id=obj.external_id,
            actor=_user(request),
            **{name: form.cleaned_data.get(name, getattr(obj, name)) for name in PROFILE_FIELDS},
        )
        _copy_saved(obj, member)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: Any) -> None:
        # The tier history is read-only: written by the tier services only.
        _saved_nothing(formset)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Members come from integrators (orders, the API).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Member | None = None) -> bool:
        return False

    # The change page: points form and ledger

    def get_urls(self) -> list[URLPattern]:
        points = path(
            "<path:object_id>/points/",
            self.admin_site.admin_view(self.points_view),
            name="loyalty_member_points",
        )
        coupon = path(
            "<path:object_id>/coupon/",
            self.admin_site.admin_view(self.coupon_view),
            name="loyalty_member_coupon",
        )
        return [points, coupon, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Member | None = None,
    ) -> HttpResponse:
        if obj is not None and change:
            context.update(self._points_context(request, obj))
            context.update(self._coupons_context(request, obj))
            context.update(self._notifications_context(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

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

    def _coupons_context(self, request: HttpRequest, member: Member) -> dict[str, Any]:
        # One query: the newest coupons, and one more to tell whether there are others.
        rows = list(Coupon.objects.filter(member=member).order_by("-id")[: COUPONS_SHOWN + 1])
        changelist = reverse("admin:rewards_coupon_changelist", current_app=self.admin_site.name)
        context: dict[str, Any] = {
            "member_coupons": [
                (coupon, terms_text(coupon, currency=coupon.currency))
                for coupon in rows[:COUPONS_SHOWN]
            ],
            "member_coupons_more": len(rows) > COUPONS_SHOWN,
            "member_coupons_url": f"{changelist}?member__id__exact={member.pk}",
        }
        if self.has_change_permission(request, member):
            context["member_coupon_url"] = reverse(
                "admin:loyalty_member_coupon",
                args=[quote(member.pk)],
                current_app=self.admin_site.name,
            )
        return context

    def _notifications_context(self, member: Member) -> dict[str, Any]:
        # One query: the newest notifications sent (or queued) to the member, with status.
        from notifications.models import Notification

        rows = list(
            Notification.objects.filter(member=member)
            .order_by("-id")
            .only("id", "event", "channel", "status", "attempts", "sent_at", "created_at",
                  "last_error", "member_id")[: COUPONS_SHOWN + 1]
        )  # fmt: skip
        outbox = reverse("admin:notifications_notification_changelist")
        return {
            "member_notifications": rows[:COUPONS_SHOWN],
            "member_notifications_more": len(rows) > COUPONS_SHOWN,
            "member_notifications_url": f"{outbox}?member__id__exact={member.pk}",
        }

    # Coupons issued by staff: to the selected members, or from a member's page

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
                    source=form.cleaned_data["source"],
                    issued_by=_user(request),
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
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue a coupon"),
            "opts": self.opts,
            "form": form,
            "program": program,
            "members": list(members.order_by("pk")[:COUPONS_SHOWN]),
            "count": count,
            "back_url": back_url
            or reverse("admin:loyalty_member_changelist", current_app=self.admin_site.name),
            "is_action": back_url is None,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across") == "1",
        }
        return TemplateResponse(request, "admin/rewards/coupon_issue.html", context)

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
                            created_by=_user(request),
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
        context = {
            **self.admin_site.each_context(request),
            "title": _("Override the tier"),
            "opts": self.opts,
            "form": form,
            "members": list(queryset.order_by("pk")[:COUPONS_SHOWN]),
            "count": count,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across") == "1",
        }
        return TemplateResponse(request, "admin/loyalty/tier_override.html", context)

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
                    created_by=_user(request),
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


# Read-only history: ledger, orders, refunds


class ReadOnlyScopedAdmin(MerchantScopedAdmin[_ModelT]):
    """Records written by the services only: viewable in scope, never added, changed, deleted."""

    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _ModelT | None = None) -> bool:
        return False


@admin.display(description=_("by"))
def staff_name(entry: LedgerEntry) -> str:
    """Who made a manual entry (a username, not a link: staff cannot open user pages)."""
    return entry.created_by.get_username() if entry.created_by else ""


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyScopedAdmin[LedgerEntry]):
    merchant_path = "member__program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = ("created_at", "member", "kind", "points", "balance_after", "reason", staff_name)
    list_select_related = ("member", "created_by")
    list_filter = ("kind",)
    date_hierarchy = "created_at"
    search_fields = ("member__external_id", "member__email", "member__name")
    search_help_text = _("A member: exact external id, whole e-mail address, or part of the name.")
    ordering = ("-id",)
    readonly_fields = ("by",)
    fields = (
        "member",
        "kind",
        "points",
        "balance_after",
        "reason",
        "order",
        "refund",
        "by",
        "details",
        "idempotency_key",
        "created_at",
    )

    @admin.display(description=_("by"))
    def by(self, entry: LedgerEntry) -> str:
        return staff_name(entry)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[LedgerEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(_search_member(term, prefix="member__")), False


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("external_id", "amount", "points_reversed", "balance_after", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        # Each row's title (its __str__) names the order.
        return super().get_queryset(request).select_related("order")


class OrderLedgerInline(ReadOnlyInline):
    model = LedgerEntry
    verbose_name_plural = _("ledger entries")
    fields = ("created_at", "kind", "points", "balance_after", "reason", "by")
    readonly_fields = ("by",)
    ordering = ("-id",)

    @admin.display(description=_("by"))
    def by(self, entry: LedgerEntry) -> str:
        return staff_name(entry)

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerEntry]:
        # Each row's title (its __str__) names the member; "by" names the staff user.
        return super().get_queryset(request).select_related("member", "created_by")


@admin.register(Order)
class OrderAdmin(ReadOnlyScopedAdmin[Order]):
    merchant_path = "program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = (
        "external_id",
        "member",
        "amount",
        "currency",
        "status",
        "points_earned",
        "refunded_amount",
        "placed_at",
    )
    list_select_related = ("member",)
    list_filter = ("status", "placed_at", "currency")
    date_hierarchy = "placed_at"
    search_fields = ("external_id",)
    search_help_text = _("Exact order external id.")
    ordering = ("-id",)
    inlines = (RefundInline, OrderLedgerInline)
    fields = (
        "external_id",
        "member",
        "placed_at",
        "status",
        "amount",
        "currency",
        "discount",
        "shipping",
        "tax",
        "paid_with_gift_card",
        "points_base",
        "earn_rate",
        "points_earned",
        "balance_after",
        "refunded_amount",
        "points_reversed",
        "created_at",
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        term = search_term.strip()
        return (queryset.filter(external_id=term) if term else queryset), False


@admin.register(Tier)
class TierAdmin(ReadOnlyScopedAdmin[Tier]):
    """Tiers with how many members hold each (edited on their program's page)."""

    merchant_path = "program__merchant"
    owner_column = "program"
    list_display = ("name", "min_points", "window_days", "min_rating", "earn_multiplier",
                    "member_count")  # fmt: skip
    ordering = ("program", "min_points")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return (
            super()
            .get_queryset(request)
            .select_related("program")
            .annotate(holders=Count("members"))
        )

    @admin.display(description=_("members"), ordering="holders")
    def member_count(self, tier: Tier) -> str:
        url = reverse("admin:loyalty_member_changelist", current_app=self.admin_site.name)
        return format_html('<a href="{}?tier={}">{}</a>', url, tier.pk, tier.holders)  # type: ignore[attr-defined]


@admin.register(Refund)
class RefundAdmin(ReadOnlyScopedAdmin[Refund]):
    merchant_path = "order__program__merchant"
    show_full_result_count = False  # one COUNT of a big table per page is enough
    list_display = ("external_id", "order", "amount", "points_reversed", "created_at")
    list_select_related = ("order",)
    list_filter = ("created_at", "order__currency")
    search_fields = ("external_id", "order__external_id")
    search_help_text = _("Exact refund or order external id.")
    ordering = ("-id",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(external_id=term) | Q(order__external_id=term)), False


# API keys


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceSavedAdmin[ApiKey]):
    merchant_path = "merchant"
    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("merchant",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    ordering = ("-id",)
    actions = ("revoke",)

    @admin.display(description=_("scopes"))
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    owner_column = "merchant"

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        merchant = ("merchant",) if _is_superuser(request) else ()
        if obj is None:
            return (*merchant, "name", "scopes")
        return (
            *merchant,
            "name",
            "prefix",
            "scope_list",
            "created_at",
            "last_used_at",
            "revoked_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is None:
            return ()
        return ("merchant", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at")

    def get_form(
        self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[ApiKey]]:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: Any) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        user = _user(request)
        merchant: Merchant | None = form.cleaned_data.get("merchant") or (
            user.merchant if user else None
        )
        if merchant is None:
            raise PermissionDenied
        key, raw_key = api_key_create(
            merchant=merchant, scopes=form.cleaned_data["scopes"], name=form.cleaned_data["name"]
        )
        _copy_saved(obj, key)
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code> — {}",
                _("The new API key is"),
                raw_key,
                _("copy it now, it will not be shown again."),
            ),
            messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request) or self._may_write(request)

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Revoke instead: the key's record stays, with when it was last used.
        return False

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = api_key_revoke(keys=queryset)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count) % {"count": count},
            messages.SUCCESS,
        )


# Earning rules, campaigns, transfers and feedback have their own module.
from loyalty import earning_admin  # noqa: E402, F401

# The audit trail and bulk jobs (their admins need the mixins above).
from loyalty.backoffice import admin as _backoffice_admin  # noqa: E402, F401

# Staff authenticators (django-otp): a superuser sees who has one and removes a lost one
# (audited, loyalty.services.two_factor); nobody reads or edits a secret here. Staff set up
# their own on the two-factor page (loyalty.admin_site).
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return _is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return _is_superuser(request)

    def delete_model(self, request: HttpRequest, obj: TOTPDevice) -> None:
        totp_reset(user=obj.user, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        for user in User.objects.filter(totpdevice__in=queryset).distinct():
            totp_reset(user=user, actor=request.user)  # type: ignore[arg-type]
