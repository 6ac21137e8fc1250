"""The audit trail: every staff action that changes money-like data or a member's profile
leaves one entry (and so does an integrator's change of a member's email address).

Invariant: entries are only ever inserted (``AuditEntry`` rows are refused UPDATE and
DELETE by the PostgreSQL trigger ``loyalty_audit_append_only``, from the migration
``..._audit_append_only``). Callers record inside the transaction of the change itself, so
a change that rolls back leaves no entry, and a change that commits always has one.

Every app records here (rewards' and notifications' services too), so this is not one of
loyalty's services: it depends on the models alone.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from loyalty.models import AuditEntry, Merchant, User


class Action:
    """The words of the trail (``action``), one per kind of change."""

    POINTS_GRANT = "points.grant"
    POINTS_DEDUCT = "points.deduct"
    COUPON_ISSUE = "coupon.issue"
    COUPON_ISSUE_BATCH = "coupon.issue_batch"
    COUPON_VOID = "coupon.void"
    PROGRAM_UPDATE = "program.update"
    TEMPLATE_CREATE = "template.create"
    TEMPLATE_UPDATE = "template.update"
    TEMPLATE_DELETE = "template.delete"
    NOTIFICATION_OFF = "notification.switch_off"
    NOTIFICATION_ON = "notification.switch_on"
    TIER_OVERRIDE = "tier.override"
    COUPON_TEMPLATE_CREATE = "coupon_template.create"
    COUPON_TEMPLATE_UPDATE = "coupon_template.update"
    MEMBER_IMPORT = "member.import"
    RULE_CREATE = "earning_rule.create"
    RULE_UPDATE = "earning_rule.update"
    RULE_DELETE = "earning_rule.delete"
    RULES_REPLACE = "earning_rules.replace"
    CAMPAIGN_CREATE = "campaign.create"
    CAMPAIGN_UPDATE = "campaign.update"
    CAMPAIGN_DELETE = "campaign.delete"
    CAMPAIGNS_REPLACE = "campaigns.replace"
    THRESHOLDS_REPLACE = "thresholds.replace"
    TIERS_REPLACE = "tiers.replace"
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_ROTATE = "webhook.rotate_secret"
    WEBHOOK_TEST = "webhook.test"
    TWO_FACTOR_ENABLE = "staff.two_factor_enable"
    TWO_FACTOR_REMOVE = "staff.two_factor_remove"
    MEMBER_UPDATE = "member.update"
    MEMBER_EMAIL_CHANGE = "member.email_change"
    BULK_PREVIEW = "bulk.preview"
    BULK_START = "bulk.start"


# What staff read in the trail for each code (the code stays what is stored and searched).
# tests/backoffice/test_audit_display.py fails when an ``Action`` code has no words here.
ACTION_WORDS: dict[str, Promise] = {
    Action.POINTS_GRANT: _("Points granted"),
    Action.POINTS_DEDUCT: _("Points deducted"),
    Action.COUPON_ISSUE: _("Coupon issued"),
    Action.COUPON_ISSUE_BATCH: _("Coupons issued from a file"),
    Action.COUPON_VOID: _("Coupon voided"),
    Action.PROGRAM_UPDATE: _("Program settings changed"),
    Action.TEMPLATE_CREATE: _("Notification text added"),
    Action.TEMPLATE_UPDATE: _("Notification text changed"),
    Action.TEMPLATE_DELETE: _("Notification text removed"),
    Action.NOTIFICATION_OFF: _("Notification switched off"),
    Action.NOTIFICATION_ON: _("Notification switched on again"),
    Action.TIER_OVERRIDE: _("Tier set by hand"),
    Action.COUPON_TEMPLATE_CREATE: _("Coupon template added"),
    Action.COUPON_TEMPLATE_UPDATE: _("Coupon template changed"),
    Action.MEMBER_IMPORT: _("Members imported"),
    Action.RULE_CREATE: _("Earning rule added"),
    Action.RULE_UPDATE: _("Earning rule changed"),
    Action.RULE_DELETE: _("Earning rule removed"),
    Action.RULES_REPLACE: _("Earning rules replaced"),
    Action.CAMPAIGN_CREATE: _("Campaign added"),
    Action.CAMPAIGN_UPDATE: _("Campaign changed"),
    Action.CAMPAIGN_DELETE: _("Campaign removed"),
    Action.CAMPAIGNS_REPLACE: _("Campaigns replaced"),
    Action.THRESHOLDS_REPLACE: _("Reward thresholds replaced"),
    Action.TIERS_REPLACE: _("Tiers replaced"),
    Action.WEBHOOK_CREATE: _("Webhook endpoint added"),
    Action.WEBHOOK_UPDATE: _("Webhook endpoint changed"),
    Action.WEBHOOK_DELETE: _("Webhook endpoint removed"),
    Action.WEBHOOK_ROTATE: _("Webhook signing secret rotated"),
    Action.WEBHOOK_TEST: _("Webhook test event sent"),
    Action.TWO_FACTOR_ENABLE: _("Two-factor sign-in turned on"),
    Action.TWO_FACTOR_REMOVE: _("Two-factor sign-in removed"),
    Action.MEMBER_UPDATE: _("Member profile changed"),
    Action.MEMBER_EMAIL_CHANGE: _("Member email address changed"),
    Action.BULK_PREVIEW: _("Bulk file checked"),
    Action.BULK_START: _("Bulk job started"),
}


def action_codes() -> list[str]:
    """Every code ``Action`` declares."""
    return [value for name, value in vars(Action).items() if name.isupper()]


def action_words(code: str) -> str:
    """The code in words in the active language; an unknown code (an old one) as it is."""
    words = ACTION_WORDS.get(code)
    return str(words) if words is not None else code


def _plain(value: Any) -> Any:
    """JSON-safe values that keep their meaning: Decimals and dates as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Model):
        return str(value.pk)
    return value


def audit_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields whose value differs (by value: 10.0000 is 10)."""
    return {
        name: [_plain(before.get(name)), _plain(after.get(name))]
        for name in after
        if before.get(name) != after.get(name)
    }


def audit_record(
    *,
    merchant: Merchant | int | None,
    actor: User | None,
    action: str,
    target: object | None,
    changes: dict[str, Any],
    reason: str = "",
    actor_name: str = "",
) -> AuditEntry:
    """Record one staff action. ``changes`` is ``{field: [old, new]}`` or any JSON-able facts.

    ``actor_name`` names who acted when it was not a staff user (an API key)."""
    target_type = target_id = target_repr = ""
    if isinstance(target, Model):
        target_type = target._meta.label_lower
        target_id = str(target.pk)
        target_repr = str(target)[:200]
    elif target is not None:
        target_repr = str(target)[:200]
    merchant_id = merchant.pk if isinstance(merchant, Merchant) else merchant
    return AuditEntry.objects.create(
        merchant_id=merchant_id,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else actor_name[:150],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        changes=_plain(changes),
        reason=(reason or "").strip(),
    )


def audit_replace(
    *,
    merchant: Merchant | int,
    target: object,
    action: str,
    name: str,
    before: list[Any],
    after: list[Any],
    actor: User | None,
    actor_name: str = "",
) -> None:
    """A list of settings replaced as a whole (rules, campaigns, thresholds, tiers):
    ``{name: [before, after]}``, when a person (a staff user or an API key) changed it."""
    changes = audit_changes({name: before}, {name: after})
    if changes and (actor is not None or actor_name):
        audit_record(
            merchant=merchant,
            actor=actor,
            actor_name=actor_name,
            action=action,
            target=target,
            changes=changes,
        )
