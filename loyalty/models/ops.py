"""What runs the program around the ledger: idempotency, audit trail, bulk jobs, alerts."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.models.base import Merchant, User, append_only
from loyalty.models.program import Program


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an Idempotency-Key, replayed to its retries."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    # JSON as text, not jsonb: an answer may echo what it refused, NUL characters included,
    # and jsonb cannot hold "\u0000".
    response = models.TextField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class AuditEntry(models.Model):
    """A staff action that changed money-like data: who, when, what changed, why.

    Append-only like the ledger: PostgreSQL refuses UPDATE and DELETE (migration 0010).
    ``actor_name`` keeps the username readable even if the login is renamed.
    """

    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The list's count reads "2 audit entries" (Django puts the plural after the number),
        # so the plural names entries, not the trail they make.
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        # What staff did is never rewritten, not even by a superuser's shell.
        triggers = [append_only("")]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="audit_merchant_newest_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_repr} by {self.actor_name or '-'}"


class BulkJob(models.Model):
    """A bulk operation from a CSV: previewed, then run by a Celery task with progress.

    Each row is a ``BulkRow``; a row is done in the same transaction as its effect,
    so running the job again (a retry, a second worker) carries on where it stopped.
    """

    class Kind(models.TextChoices):
        POINTS = "points", _("grant or deduct points")
        COUPONS = "coupons", _("issue compensation coupons")
        MEMBERS = "members", _("import members")

    class Status(models.TextChoices):
        PREVIEW = "preview", _("preview")
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="bulk_jobs")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="bulk_jobs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    file_name = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Who previewed it (uploaded the file), and who started it: the rows run as the one who
    # started the job last, with that person's role and limits.
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="bulk_jobs"
    )
    started_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk job")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.processed * 100 / self.total)


class BulkRow(models.Model):
    """One line of a bulk job's CSV, with what happened to it."""

    class Status(models.TextChoices):
        READY = "ready", _("ready")
        INVALID = "invalid", _("invalid")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    external_id = models.CharField(max_length=191, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The row's cells as uploaded, by column name: what staff see in the preview and correct.
    values = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    code = models.CharField(max_length=40, blank=True)
    # The column the refusal is about (empty when it is about the row as a whole).
    field = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "line"], name="bulk_row_line_unique"),
        ]
        indexes = [models.Index(fields=["job", "status", "line"], name="bulk_row_todo_idx")]

    def __str__(self) -> str:
        return f"{self.line}: {self.external_id} ({self.status})"


class OpsAlert(models.Model):
    """Something wrong with how a merchant's program runs (not with one customer), seen by the
    scheduled check: the ledger disagrees with a balance, or the outboxes are not draining.

    At most one open alert per merchant and kind; the check closes it when the problem is
    gone, and a new one opens (and emails again) if it comes back.
    """

    class Kind(models.TextChoices):
        LEDGER_MISMATCH = "ledger_mismatch", _("ledger mismatch")
        OUTBOX_BACKLOG = "outbox_backlog", _("outbox backlog")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="ops_alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    count = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="ops_alert_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.count})"
