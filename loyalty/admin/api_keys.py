"""API keys: a manager (or a superuser, for any merchant) creates one, sees its raw value once,
and revokes it; a key is never deleted, so its record keeps when it was last used.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin.base import ServiceSavedAdmin, copy_saved
from loyalty.backoffice.scope import is_superuser, request_user
from loyalty.forms import ApiKeyCreateForm
from loyalty.models import ApiKey, Merchant
from loyalty.services.api_keys import api_key_create, api_key_revoke


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
        merchant = ("merchant",) if is_superuser(request) else ()
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
        user = request_user(request)
        merchant: Merchant | None = form.cleaned_data.get("merchant") or (
            user.merchant if user else None
        )
        if merchant is None:
            raise PermissionDenied
        key, raw_key = api_key_create(
            merchant=merchant, scopes=form.cleaned_data["scopes"], name=form.cleaned_data["name"]
        )
        copy_saved(obj, key)
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
        return is_superuser(request) or self._may_write(request)

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
