"""Moved to ``loyalty.roles``: a rule every app reads (rewards and notifications too), not one
of loyalty's services.

Only for the modules that still import it from here (``SHIMS`` and the allowed edges in
tests/test_architecture.py); that test fails once nothing does, and this module goes.
"""

from loyalty.roles import (
    Permission,
    SupportDailyLimitExceeded,
    role_allows,
    role_check,
    role_check_merchant,
    role_check_points,
    role_limited,
)

__all__ = [
    "Permission",
    "SupportDailyLimitExceeded",
    "role_allows",
    "role_check",
    "role_check_merchant",
    "role_check_points",
    "role_limited",
]
