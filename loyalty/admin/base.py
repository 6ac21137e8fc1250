"""The building blocks of every backoffice admin: scoped to the staff member's merchant.

Invariants kept here:
- A staff user with a merchant sees and changes only that merchant's objects.
  Every admin declares the path from its model to the merchant
  (``merchant_path``), and ``MerchantScopedAdmin`` uses it for the querysets,
  the foreign-key choices and the object permissions, so another merchant's
  object is "not found", never shown. Superusers see everything.
- Writes go through the services (``loyalty.services``, ``rewards.services``);
  a service's refusal is shown on the form, never as a server error
  (``ServiceSavedAdmin``). Records the services alone write are read-only here
  (``ReadOnlyScopedAdmin``, ``ReadOnlyInline``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.db.models import Model, Q, QuerySet
from django.db.models.fields.related import ForeignKey
from django.forms import BaseInlineFormSet, ModelChoiceField
from django.http import HttpRequest, HttpResponse

from loyalty.backoffice.scope import is_superuser, request_user, staff_merchant_id
from loyalty.errors import LoyaltyError
from loyalty.forms import add_service_error
from loyalty.roles import Permission, role_allows

ModelT = TypeVar("ModelT", bound=Model)


def copy_saved(target: Model, saved: Model) -> None:
    """Make the admin's ``obj`` the row a service saved, so logging and redirects see it."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class MerchantScopedAdmin(admin.ModelAdmin, Generic[ModelT]):
    """An admin whose objects belong to one merchant each, found through ``merchant_path``.

    Staff of a merchant may view its objects, and change them when their role allows
    ``write_permission`` (``loyalty.roles``), but not add or delete them unless
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelT]:
        queryset = super().get_queryset(request)
        if is_superuser(request):
            return queryset
        merchant_id = staff_merchant_id(request)
        if merchant_id is None or self.superuser_only:
            return queryset.none()
        return queryset.filter(**{self.merchant_path: merchant_id})

    def get_list_display(self, request: HttpRequest) -> Any:
        if self.owner_column and is_superuser(request):
            return (*self.list_display, self.owner_column)
        return self.list_display

    def merchant_id_of(self, obj: ModelT) -> int | None:
        """Follow ``merchant_path`` on an object; the last hop reads the id, not the row."""
        *hops, last = self.merchant_path.split("__")
        target: Any = obj
        for hop in hops:
            target = getattr(target, hop)
        field = target._meta.pk if last == "pk" else target._meta.get_field(last)
        merchant_id: int | None = getattr(target, field.attname)
        return merchant_id

    def _in_scope(self, request: HttpRequest, obj: ModelT | None) -> bool:
        merchant_id = staff_merchant_id(request)
        if merchant_id is None or self.superuser_only:
            return False
        return obj is None or self.merchant_id_of(obj) == merchant_id

    def _may_write(
        self, request: HttpRequest, obj: ModelT | None = None, permission: str | None = None
    ) -> bool:
        """In scope, and the staff user's role allows the change (superusers: always)."""
        if is_superuser(request):
            return True
        return self._in_scope(request, obj) and role_allows(
            request_user(request), permission or self.write_permission
        )

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        # Offer only what the user could open in the admin: another merchant's
        # rows must not even appear as choices.
        if "queryset" not in kwargs and not is_superuser(request):
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
        if is_superuser(request) and not self.superuser_only:
            return (self.merchant_path, *filters)
        return filters

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_superuser(request):
            return super().has_module_permission(request)
        return self._in_scope(request, None)

    def has_view_permission(self, request: HttpRequest, obj: ModelT | None = None) -> bool:
        if is_superuser(request):
            return super().has_view_permission(request, obj)
        return self._in_scope(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: ModelT | None = None) -> bool:
        if is_superuser(request):
            return super().has_change_permission(request, obj)
        return self._may_write(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: ModelT | None = None) -> bool:
        return is_superuser(request) and super().has_delete_permission(request, obj)


_refusals: WeakKeyDictionary[HttpRequest, LoyaltyError] = WeakKeyDictionary()


class ServiceSavedAdmin(MerchantScopedAdmin[ModelT]):
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
        self, request: HttpRequest, obj: ModelT | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[ModelT]]:
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal = _refusals.get(request)
        if refusal is None:
            return form_class
        show_refusal = self.show_refusal

        def clean(form: forms.ModelForm[ModelT]) -> dict[str, Any] | None:
            cleaned = form_class.clean(form)
            show_refusal(form, refusal)
            return cleaned

        refused: type[forms.ModelForm[ModelT]] = type(
            form_class.__name__, (form_class,), {"clean": clean}
        )
        return refused

    def show_refusal(self, form: forms.ModelForm[ModelT], refusal: LoyaltyError) -> None:
        add_service_error(form, refusal, self.service_error_fields)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page (already scoped), read-only."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) or staff_merchant_id(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


def saved_nothing(formset: Any) -> None:
    """What the admin's change message reads from a formset it did not save itself."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


def member_search(term: str, prefix: str = "") -> Q:
    """A member by exact external id, whole e-mail address, or part of the name.

    A whole address is an equality, so (program, email) index answers it; the
    lower-cased variant finds addresses stored in lower case.
    """
    external_id = Q(**{f"{prefix}external_id": term})
    if "@" in term:
        return external_id | Q(**{f"{prefix}email__in": {term, term.lower()}})
    return external_id | Q(**{f"{prefix}name__icontains": term})


class ReadOnlyScopedAdmin(MerchantScopedAdmin[ModelT]):
    """Records written by the services only: viewable in scope, never added, changed, deleted."""

    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ModelT | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelT | None = None) -> bool:
        return False
