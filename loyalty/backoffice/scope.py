"""Who is asking, and for which merchant: the scope of every backoffice page.

A staff user with a merchant works on that merchant's program only; a superuser works on
every merchant (the backoffice pages outside the admin ask them to choose one). Every
admin class (``loyalty.admin.base``) and every backoffice page (``loyalty.backoffice.views``)
reads the scope through these functions, so there is one rule for both.
"""

from __future__ import annotations

from django.http import HttpRequest

from loyalty.backoffice.params import id_param
from loyalty.models import Program, User


def request_user(request: HttpRequest) -> User | None:
    """The signed-in user if active; None for anyone else."""
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


def is_superuser(request: HttpRequest) -> bool:
    user = request_user(request)
    return user is not None and user.is_superuser


def staff_user(request: HttpRequest) -> User | None:
    """The signed-in user if an active staff user (a superuser included)."""
    user = request_user(request)
    return user if user is not None and user.is_staff else None


def staff_merchant_id(request: HttpRequest) -> int | None:
    """The merchant a (non-super) staff user works for; None if they may see nothing."""
    user = request_user(request)
    if user is None or not user.is_staff or user.is_superuser:
        return None
    return user.merchant_id


def staff_program(request: HttpRequest) -> Program | None:
    """The program of a (non-super) staff user's merchant, read once per request: many
    admins ask for it (their add buttons on the admin's home)."""
    if not hasattr(request, "_staff_program"):
        merchant_id = staff_merchant_id(request)
        request._staff_program = (  # type: ignore[attr-defined]
            None
            if merchant_id is None
            else Program.objects.select_related("merchant").filter(merchant_id=merchant_id).first()
        )
    return request._staff_program  # type: ignore[attr-defined]


def backoffice_program(request: HttpRequest) -> Program | None:
    """The program a user works on: their merchant's, or (superusers) ``?merchant=<id>``."""
    user = staff_user(request)
    if user is None:
        return None
    if user.is_superuser:
        merchant = id_param(request.GET.get("merchant") or request.POST.get("merchant"))
        if merchant is None:
            return None
        return Program.objects.select_related("merchant").filter(merchant_id=merchant).first()
    return staff_program(request)
