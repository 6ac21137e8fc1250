"""Tenants and logins: merchants, their staff users and API keys; money fields."""

from typing import Any

import pgtrigger
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def amount_field(**kwargs: Any) -> models.DecimalField:
    """Money: exact Decimal, enough places for any currency's minor unit (at most 3)."""
    return models.DecimalField(max_digits=16, decimal_places=3, **kwargs)


def default_reminder_offsets() -> list[int]:
    return [60, 30, 14, 7]


def where_set(field: str, name: str) -> list[models.Index]:
    """An index on a nullable foreign key over the rows that have it set: a look-up or a
    delete's check by that key uses it, and the many rows without one cost nothing."""
    return [models.Index(fields=[field], condition=Q(**{f"{field}__isnull": False}), name=name)]


def append_only(refused: str) -> pgtrigger.Trigger:
    """A table whose rows are never updated nor deleted, below Python: PostgreSQL refuses
    it, whoever asks (the admin, a shell, raw SQL). ``refused`` ends the error's text.
    TRUNCATE stays possible: test runners empty tables with it, and it needs a privilege no
    application role should have in production."""
    return pgtrigger.Trigger(
        name="append_only",
        when=pgtrigger.Before,
        operation=pgtrigger.Update | pgtrigger.Delete,
        func=(
            f"RAISE EXCEPTION '% is append-only: % refused{refused}', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'integrity_constraint_violation';"
        ),
    )


DEFAULT_BRAND_COLOUR = "#0f766e"


class Merchant(models.Model):
    """A tenant: a shop with its own program, staff, members and API keys."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    brand_colour = models.CharField(
        max_length=7,
        default=DEFAULT_BRAND_COLOUR,
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour like #0f766e (# and six hex digits)."))
        ],
        help_text=_("The accent colour of the customer profile page, e.g. #0f766e."),
    )
    # "<event>:<channel>" of the notifications the merchant switched off (none is sent on
    # that channel); read with the merchant, so the order path asks nothing more for it.
    notifications_off = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A login. Staff users belong to one merchant and see only its data; superusers see all."""

    class Role(models.TextChoices):
        VIEWER = "viewer", _("viewer: reads only")
        SUPPORT = "support", _("support: grants up to the program's limit, compensation coupons")
        MANAGER = "manager", _("manager: everything of the merchant")

    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="staff"
    )
    # What a merchant's staff user may do in the backoffice (loyalty.roles).
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MANAGER)


class ApiKey(models.Model):
    """An integrator's key. Only its sha256 is stored; the key itself is shown once."""

    class Scope(models.TextChoices):
        ORDERS = "orders", _("orders, refunds, member reads")
        CHECKOUT = "checkout", _("coupon validate, redeem, release")
        MANAGE = "manage", _("program configuration, grants")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False, help_text=_("To recognise the key."))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
