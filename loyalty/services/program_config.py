"""A program's whole configuration in one write: its settings, its reward thresholds, its
earning rules and campaigns.

``PUT /api/v1/program`` changes both at once, and either all of it applies or
nothing does. Only a manager of the program's merchant (or a superuser, or an API key with
the ``manage`` scope: ``actor`` None, named by ``actor_name``) may, and each part that
changes is in the audit trail.
"""

from typing import Any

from django.db import transaction

from loyalty.models import Program, User
from loyalty.roles import Permission, role_check
from loyalty.services.earning_config import campaigns_replace, rules_replace
from loyalty.services.merchants import program_update
from loyalty.services.tier_settings import tiers_replace
from rewards.services.thresholds import thresholds_replace


@transaction.atomic
def program_configure(
    *,
    program: Program,
    thresholds: list[dict[str, Any]] | None = None,
    earning_rules: list[dict[str, Any]] | None = None,
    campaigns: list[dict[str, Any]] | None = None,
    tiers: list[dict[str, Any]] | None = None,
    actor: User | None = None,
    actor_name: str = "",
    **settings: Any,
) -> Program:
    """Change any subset of the settings and, when ``thresholds`` is given, replace the
    thresholds (``[{points, coupon: {kind, value, ...}}]``) against the new currency;
    when ``tiers`` is given, replace the tiers (``[{name, min_points, window_days, ...}]``)."""
    role_check(user=actor, permission=Permission.MANAGE, merchant_id=program.merchant_id)
    who: dict[str, Any] = {"actor": actor, "actor_name": actor_name}
    # program_update locks the program row, so concurrent configurations queue up.
    program = program_update(program=program, **who, **settings)
    if thresholds is not None:
        thresholds_replace(program=program, thresholds=thresholds, **who)
    if earning_rules is not None:
        rules_replace(program=program, rules=earning_rules, **who)
    if campaigns is not None:
        campaigns_replace(program=program, campaigns=campaigns, **who)
    if tiers is not None:
        tiers_replace(program=program, tiers=tiers, **who)
    return program
