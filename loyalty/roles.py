"""What a merchant's staff user may do, by role.

- viewer: reads only;
- support: grants or deductions up to the program's ``support_grant_limit`` points at
  once and ``support_daily_member_limit`` a member a day (``points_grant`` counts the
  day), bulk jobs up to ``support_job_limit`` points, compensation coupons, and member
  profiles except the email address (the key to the member's profile page);
- manager: everything of the merchant.

Superusers may do everything; a staff user never acts on another merchant's data. The
admin asks ``role_allows`` to show or hide what a user may not use; the services call
``role_check`` (with the merchant of what is changed) / ``role_check_points`` so a
refusal holds whatever page or script asks. Every app's services ask (rewards' and
notifications' too), so this is not one of loyalty's services: it depends on the models
alone.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.errors import LoyaltyError
from loyalty.models import Program, User


class Permission:
    VIEW = "view"
    POINTS = "points"  # grant or deduct by hand, within the support limit
    COUPONS = "coupons"  # issue compensation coupons
    MEMBERS = "members"  # edit a member's profile
    MANAGE = "manage"  # everything else: program, templates, voids, keys, imports


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    User.Role.VIEWER: frozenset({Permission.VIEW}),
    User.Role.SUPPORT: frozenset(
        {Permission.VIEW, Permission.POINTS, Permission.COUPONS, Permission.MEMBERS}
    ),
    User.Role.MANAGER: frozenset(
        {
            Permission.VIEW,
            Permission.POINTS,
            Permission.COUPONS,
            Permission.MEMBERS,
            Permission.MANAGE,
        }
    ),
}


class RoleForbidden(LoyaltyError):
    code = "role_forbidden"
    status = 403
    message = _("Your role (%(role)s) may not do this; ask a manager of your shop.")


class GrantLimitExceeded(LoyaltyError):
    code = "grant_limit_exceeded"
    status = 403
    message = _(
        "Your role (support) may grant or deduct at most %(limit)s points at once; "
        "%(points)s were asked. Ask a manager of your shop."
    )


class MerchantForbidden(RoleForbidden):
    code = "merchant_forbidden"
    message = _("This belongs to another shop; you may change only your own shop's.")


class SupportDailyLimitExceeded(LoyaltyError):
    code = "support_daily_limit_exceeded"
    status = 403
    message = _(
        "Support may grant or deduct at most %(limit)s points a day for one member; "
        "%(used)s were moved today and %(points)s more were asked. Ask a manager of your shop."
    )


class SupportJobLimitExceeded(LoyaltyError):
    code = "support_job_limit_exceeded"
    status = 403
    message = _(
        "A bulk job that support previews or starts may move at most %(limit)s points; this "
        "one moves %(points)s. Split the file, or ask a manager of your shop to start it."
    )


def role_allows(user: User | None, permission: str) -> bool:
    if user is None or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def role_check(*, user: User | None, permission: str, merchant_id: int | None = None) -> None:
    """Refuse (``role_forbidden``) what the user's role does not allow. None: the system.

    With ``merchant_id`` (the owner of what is changed), a staff user of any other
    merchant is refused too (``merchant_forbidden``); superusers work for every merchant.
    """
    if user is None:
        return
    if not role_allows(user, permission):
        raise RoleForbidden(role=User.Role(user.role).name.lower())
    if merchant_id is not None:
        role_check_merchant(user=user, merchant_id=merchant_id)


def role_check_merchant(*, user: User | None, merchant_id: int) -> None:
    """Refuse (``merchant_forbidden``) a staff user of another merchant. None: the system."""
    if user is not None and not user.is_superuser and user.merchant_id != merchant_id:
        raise MerchantForbidden()


def role_limited(user: User | None) -> bool:
    """Whether the support limits bind the user (anyone below a manager)."""
    return user is not None and not role_allows(user, Permission.MANAGE)


def role_check_points(*, user: User | None, program: Program, points: int) -> None:
    """A grant or deduction by hand: refused for viewers and for another merchant's staff,
    and above the per-change limit for support."""
    role_check(user=user, permission=Permission.POINTS)
    role_check_merchant(user=user, merchant_id=program.merchant_id)
    if role_limited(user) and abs(points) > program.support_grant_limit:
        raise GrantLimitExceeded(limit=program.support_grant_limit, points=abs(points))
