"""The loyalty app's models, by concern (one module each); imported from here."""

from loyalty.models.base import (
    DEFAULT_BRAND_COLOUR,
    ApiKey,
    Merchant,
    User,
    amount_field,
    default_reminder_offsets,
)
from loyalty.models.ledger import (
    TIER_COUNTING_GRANT_FLAG,
    TIER_COUNTING_KINDS,
    LedgerEntry,
    Order,
    PendingEarning,
    PointLot,
    Refund,
    TierDay,
)
from loyalty.models.members import Feedback, Member, ProfileToken, TierChange, Transfer
from loyalty.models.ops import AuditEntry, BulkJob, BulkRow, IdempotencyRecord, OpsAlert
from loyalty.models.program import Campaign, EarningRule, Program, Tier

__all__ = [
    "TIER_COUNTING_GRANT_FLAG",
    "TIER_COUNTING_KINDS",
    "TierDay",
    "amount_field",
    "ApiKey",
    "AuditEntry",
    "BulkJob",
    "BulkRow",
    "Campaign",
    "DEFAULT_BRAND_COLOUR",
    "default_reminder_offsets",
    "EarningRule",
    "Feedback",
    "IdempotencyRecord",
    "LedgerEntry",
    "Member",
    "Merchant",
    "OpsAlert",
    "Order",
    "PendingEarning",
    "PointLot",
    "ProfileToken",
    "Program",
    "Refund",
    "Tier",
    "TierChange",
    "Transfer",
    "User",
]
