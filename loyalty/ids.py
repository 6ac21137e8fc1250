"""External ids: the integrator's names for members, orders and refunds.

Every id we store can be addressed in a URL later: at most 191 characters, no
'/', no control characters, not "." or ".." (HTTP clients rewrite those).
"""

import re

from django.utils.translation import gettext_lazy as _

MAX_LENGTH = 191
# /api/v1/orders/quote and /api/v1/orders/batch are endpoints, so no order may be named so.
RESERVED_ORDER_IDS = frozenset({"quote", "batch"})
# Unicode's control characters (category Cc) are exactly these 65 code points; a regular
# expression finds them an order of magnitude faster than asking unicodedata per character.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def external_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an external id, in words; None when it can."""
    if not value or len(value) > MAX_LENGTH:
        return str(_("Use 1 to %(max)s characters.")) % {"max": MAX_LENGTH}
    if "/" in value:
        return str(
            _("An external id cannot contain '/': it is used in URLs such as "
              "/api/v1/members/{external_id}.")
        )  # fmt: skip
    if CONTROL_CHARACTERS.search(value):
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
