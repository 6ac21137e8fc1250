"""Tenants and logins, for superusers only: merchants, staff users, staff authenticators.

Merchant staff never see these pages (``superuser_only``); a merchant is created with its
program (``merchant_create``), and a lost authenticator is removed through the audited
``totp_reset``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from loyalty.admin.base import MerchantScopedAdmin, ServiceSavedAdmin, copy_saved
from loyalty.backoffice.scope import is_superuser
from loyalty.forms import MerchantCreateForm
from loyalty.models import Merchant, User
from loyalty.services.merchants import merchant_create
from loyalty.services.two_factor import totp_reset


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
        copy_saved(obj, merchant)

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
        return is_superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return is_superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TOTPDevice | None = None) -> bool:
        return is_superuser(request)

    def delete_model(self, request: HttpRequest, obj: TOTPDevice) -> None:
        totp_reset(user=obj.user, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        for user in User.objects.filter(totpdevice__in=queryset).distinct():
            totp_reset(user=user, actor=request.user)  # type: ignore[arg-type]
