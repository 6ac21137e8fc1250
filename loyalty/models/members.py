"""Members of a program, their tier changes, transfers, feedback and sign-in tokens."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.base import User, where_set
from loyalty.models.program import Program, Tier


class Member(models.Model):
    """A customer of one program, known to the integrator by ``external_id``.

    Every order rewrites its member's row, and with ``points_expire_at`` (indexed) changing
    each index gets a new entry: so no index here that another covers (``program``: the
    external-id key), and the foreign keys most members leave empty are indexed only where
    set.
    """

    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="members", db_index=False
    )
    external_id = models.CharField(max_length=191)
    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    locale = models.CharField(max_length=10, default="en")
    consent_email = models.BooleanField(default=False)
    consent_push = models.BooleanField(default=False)
    # Cached sum of the member's ledger entries; written only by loyalty.services.ledger.
    balance = models.BigIntegerField(default=0, editable=False)
    # Cached sum of the member's pending earnings (not yet in the balance); written only by
    # loyalty.services.pending.
    pending = models.BigIntegerField(default=0, db_default=0, editable=False)
    points_expire_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    birth_date = models.DateField(null=True, blank=True)
    # Who brought this member in; the referral bonus is paid on the member's first order.
    referred_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals",
        db_index=False,
    )  # fmt: skip
    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )
    # Tiers (loyalty.services.tiers writes these): the tier in force, an override by staff
    # (``tier`` is the override's tier while ``tier_override_until`` is ahead).
    tier = models.ForeignKey(
        "Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        editable=False, db_index=False,
    )  # fmt: skip
    tier_since = models.DateTimeField(null=True, blank=True, editable=False)
    rating = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("The member's rating as the shop sends it (a tier may require one)."),
    )  # fmt: skip
    tier_override = models.ForeignKey(
        "Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        editable=False, db_index=False,
    )  # fmt: skip
    tier_override_reason = models.TextField(blank=True, editable=False)
    tier_override_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The public badge card: an unguessable token, shown only while the member allows it.
    badge_token = models.CharField(max_length=43, null=True, blank=True, editable=False)
    badge_enabled = models.BooleanField(default=False, editable=False)
    # Raised when every way into the profile page must end (the email changed): a profile
    # session carries the value it was made with and is over once they differ.
    sign_in_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"], name="member_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(pending__gte=0), name="member_pending_gte_0"),
            models.UniqueConstraint(
                fields=["badge_token"],
                condition=Q(badge_token__isnull=False),
                name="member_badge_token_unique",
            ),  # fmt: skip
        ]
        indexes = [
            models.Index(fields=["program", "email"], name="member_email_idx"),
            *where_set("referred_by", "member_referred_by_idx"),
            *where_set("tier", "member_tier_idx"),
            *where_set("tier_override", "member_tier_override_idx"),
            # The expiry job and reminders find due members through this (a partial index:
            # members without a date cost nothing).
            models.Index(
                fields=["points_expire_at", "id"],
                condition=Q(points_expire_at__isnull=False),
                name="member_expire_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id


class TierChange(models.Model):
    """One change of a member's tier: from what to what, why, when and by whom."""

    class Kind(models.TextChoices):
        UP = "up", _("up")
        DOWN = "down", _("down")
        OVERRIDE = "override", _("override by staff")
        OVERRIDE_END = "override_end", _("override ended")

    # The tenant on the row itself, as on every table the order path writes.
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    # The names as they were: a tier renamed or removed later does not rewrite history.
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_name = models.CharField(max_length=100, blank=True)
    to_name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True, help_text=_("An override's end."))
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="tier_changes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["member", "-id"], name="tierchange_member_idx"),
            models.Index(fields=["program", "created_at"], name="tierchange_program_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_name or '-'} -> {self.to_name or '-'} ({self.kind})"


class Transfer(models.Model):
    """Points given by one member to another of the same program, once per ``key``."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="transfers")
    sender = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers_out")
    recipient = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers_in")
    points = models.BigIntegerField()
    note = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="transfer_key_unique"),
            models.CheckConstraint(condition=Q(points__gt=0), name="transfer_points_positive"),
            models.CheckConstraint(
                condition=~Q(sender=models.F("recipient")), name="transfer_not_to_self"
            ),
        ]
        indexes = [models.Index(fields=["sender", "created_at"], name="transfer_sender_idx")]

    def __str__(self) -> str:
        return f"{self.points} {self.sender} -> {self.recipient}"


class Feedback(models.Model):
    """A member's rating of the program and the rewards they would value."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="feedback")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    wanted_rewards = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 {self.member}"


class ProfileToken(models.Model):
    """A one-time sign-in to the profile page: an emailed link or a shop's deep link.

    Only the sha256 of the secret is stored. A token signs in once: it is spent by a
    single conditional UPDATE (``used_at IS NULL AND expires_at > now``), so of any
    number of concurrent uses exactly one succeeds.
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("email link")
        LINK = "link", _("shop deep link")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="profile_tokens")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="profile_token_expires_idx")]

    def __str__(self) -> str:
        return f"{self.kind} token of {self.member_id}"
