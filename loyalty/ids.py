"""External ids: the integrator's names for members, orders and refunds.

Every id we store can be addressed in a URL later: at most 191 characters, no
'/', no control characters, not "." or ".." (HTTP clients rewrite those).
"""

import unicodedata

from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 191
# /api/v1/orders/quote and /api/v1/orders/batch are endpoints, so no order may be named so.
RESERVED_ORDER_IDS = frozenset({"quote", "batch"})


def external_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an external id, in words; None when it can."""
    if not value or len(value) > MAX_LENGTH:
        return str(_("Use 1 to %(max)s characters.")) % {"max": MAX_LENGTH}
    if "/" in value:
        return str(
            _("An external id cannot contain '/': it is used in URLs such as "
              "/api/v1/members/{external_id}.")
        )  # fmt: skip
    if any(unicodedata.category(char) == "Cc" for char in value):
        return str(
            _("An external id cannot contain control characters such as line breaks or tabs.")
        )
    if value in {".", ".."}:
        return str(_("An external id cannot be '.' or '..'."))
    return None


def order_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an order's external id (the rule above, and not the name of
    an endpoint under /api/v1/orders/); None when it can."""
    if problem := external_id_problem(value):
        return problem
    if value in RESERVED_ORDER_IDS:
        return str(_("'%(id)s' names an API endpoint; choose another order id.")) % {"id": value}
    return None
