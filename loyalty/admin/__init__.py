"""The merchant backoffice: the Django admin, scoped to the staff member's merchant.

Each module registers the admins of one concern; ``base`` holds what they share (the
merchant scope, saving through services, read-only records) and imports none of them:

- ``accounts``: merchants, staff users, staff authenticators (superusers only);
- ``program``: the program's settings, reward thresholds and tiers;
- ``members``, ``member_points``, ``member_actions``: members, their ledger and points
  form, compensation coupons and tier overrides;
- ``ledger``: the ledger, orders and refunds (read-only);
- ``earning``: earning rules, campaigns, transfers, feedback;
- ``audit``: the audit trail and bulk jobs (read-only);
- ``api_keys``: the merchant's API keys.

The rewards' and notifications' admins live in their apps and build on ``base`` too.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from loyalty.admin import (  # noqa: F401 - imported to register their admins
    accounts,
    api_keys,
    audit,
    earning,
    ledger,
    members,
    program,
)

admin.site.site_header = _("Loyalty backoffice")
admin.site.site_title = _("Loyalty backoffice")
admin.site.index_title = _("Backoffice")
