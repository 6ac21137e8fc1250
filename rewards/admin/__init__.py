"""The rewards backoffice: coupon templates, coupons with their history, coupons issued by staff.

Invariants kept here:
- Scoped like every backoffice page (``MerchantScopedAdmin``): staff see and
  choose only their merchant's templates and coupons, even in list filters;
  superusers see everything.
- Coupons are written by the services only. The coupon page is read-only;
  voiding goes through ``coupon_void`` and issuing through
  ``rewards.services.admin_ops``, each with its reason recorded in the coupon's
  history. A refusal is reported per coupon or per row, never as a server error.

Modules: ``coupon_templates``; ``coupons`` (the list and a coupon's page), with its void
action (``coupon_void``) and its CSV issue pages (``coupon_issue``); ``base`` for what they
share.
"""

from rewards.admin import coupon_templates, coupons  # noqa: F401 - imported to register their admins
