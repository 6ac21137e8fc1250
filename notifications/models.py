"""Notification templates and the notification outbox.

Invariants kept here with the database's help:
- a merchant has at most one template per event, channel and language;
- a template that does not compile, or uses anything but the documented
  variables (``notifications.rendering.VARIABLES``), is refused by ``clean``
  (the admin calls it on save), so rendering never fails at send time;
- a member gets at most one notification per dedupe key
  (``"<event>:<occasion>:<channel>"``): the unique constraint is what makes a
  notification "never sent twice", however often its event is replayed.

A notification is rendered when it is written (in the transaction of the
event that causes it) and stores the text it will send, so the row is
self-contained: what the admin shows is what the member gets.

Web push (``notifications.services.push``): a browser (its push endpoint) is
subscribed at most once.

Webhooks (``notifications.services.webhooks``): a merchant's endpoint gets at
most one delivery per event and occasion (``"<event>:<occasion>"``, unique per
endpoint), and an endpoint's address is HTTPS (plain HTTP only to this machine,
for local testing).
"""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.models import Member, Merchant
from notifications import rendering
from notifications.netguard import host_refusal


class Event(models.TextChoices):
    REWARD_ISSUED = "reward_issued", _("reward issued")
    POINTS_EXPIRING = "points_expiring", _("points expiring")
    POINTS_EXPIRED = "points_expired", _("points expired")
    TIER_CHANGED = "tier_changed", _("tier changed")
    POINTS_GRANTED = "points_granted", _("points granted")
    TIER_EXPIRING = "tier_expiring", _("tier to keep (before a downgrade)")
    EMAIL_CHANGED = "email_changed", _("email address changed (notice to the old address)")


# Service notices: about the member's account itself, so they go out whatever the member's
# consent to emails, by email only, to the address stored on the row (the old one, for an
# email change), and carry no unsubscribe link.
NOTICE_EVENTS = frozenset({Event.EMAIL_CHANGED.value})


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    PUSH = "push", _("push")


class Language(models.TextChoices):
    # The labels are the settings' LANGUAGES names, already in the catalogs.
    EN = "en", _("English")
    ES = "es", _("Spanish")
    RU = "ru", _("Russian")
    TR = "tr", _("Turkish")


# The parts of a template per channel, and which of them must not be empty.
EMAIL_PARTS = ("subject", "body_text", "body_html")
PUSH_PARTS = ("title", "body", "link")
PARTS: dict[str, tuple[str, ...]] = {Channel.EMAIL: EMAIL_PARTS, Channel.PUSH: PUSH_PARTS}
REQUIRED_PARTS: dict[str, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "body_text"),
    Channel.PUSH: ("title", "body"),
}
# Parts rendered as HTML (autoescaped); every other part is plain text.
HTML_PARTS = frozenset({"body_html"})
# Parts that must render to an http(s) address.
URL_PARTS = frozenset({"link"})


def template_parts_check(channel: str, parts: dict[str, str]) -> dict[str, list[str]]:
    """The problems of a template's parts, by part name; empty when it may be saved.

    Each non-empty part must compile in the sandbox and reference only the
    documented variables; the channel's required parts must be there.
    """
    errors: dict[str, list[str]] = {}
    for name in REQUIRED_PARTS.get(channel, ()):
        if not parts.get(name, "").strip():
            errors.setdefault(name, []).append(str(_("This part is required for this channel.")))
    for name, source in parts.items():
        if not source.strip():
            continue
        problems = rendering.template_problems(
            source, html=name in HTML_PARTS, url=name in URL_PARTS
        )
        if problems:
            errors.setdefault(name, []).extend(problems)
    return errors


def switched_off(notifications_off: list[str], event: str, channels: list[str]) -> list[str]:
    """The channels left of ``channels`` once a merchant's switched-off notifications
    (``Merchant.notifications_off``, ``"<event>:<channel>"``) are taken out."""
    if not notifications_off:
        return channels
    return [channel for channel in channels if f"{event}:{channel}" not in notifications_off]


class NotificationTemplate(models.Model):
    """A merchant's own text for one event, channel and language (else the shipped default)."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="notification_templates"
    )
    event = models.CharField(max_length=20, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    language = models.CharField(max_length=5, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body_text = models.TextField(_("text body"), blank=True)
    body_html = models.TextField(_("HTML body"), blank=True)
    # How the email's bodies are written: text blocks (the bodies are made from them, in the
    # merchant's colour, ``notifications.email_blocks``) or the bodies themselves, raw.
    html_mode = models.CharField(
        _("how the email is written"),
        max_length=10,
        choices=[
            ("blocks", _("Simple: text blocks in your brand colour")),
            ("raw", _("Advanced: the text and HTML bodies, as they are")),
        ],
        default="raw",
    )
    heading = models.CharField(_("heading"), max_length=300, blank=True)
    paragraphs = models.TextField(
        _("paragraphs"), blank=True, help_text=_("Leave an empty line between paragraphs.")
    )
    button_text = models.CharField(_("button text"), max_length=100, blank=True)
    button_link = models.CharField(
        _("button link"), max_length=500, blank=True, help_text=_("e.g. {{ profile_url }}")
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "event", "channel", "language"],
                name="notification_template_unique",
            ),
        ]
        ordering = ["event", "channel", "language"]

    def __str__(self) -> str:
        return f"{self.get_event_display()} · {self.get_channel_display()} · {self.language}"

    def parts(self) -> dict[str, str]:
        """The channel's template parts, by name."""
        return {name: getattr(self, name) for name in PARTS.get(self.channel, ())}

    def clean(self) -> None:
        if self.channel not in Channel.values:
            return  # the field's own validation reports it
        errors = template_parts_check(self.channel, self.parts())
        if errors:
            raise ValidationError(errors)


class Notification(models.Model):
    """One message to one member on one channel: the outbox row, rendered and ready to send.

    Life: pending -> sending -> sent; a clean failure goes back to pending with
    a later ``next_attempt_at`` (exponential backoff) until the attempts run out,
    then failed. ``skipped`` when the member withdrew consent before delivery.
    """

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("notification status", "pending")
        SENDING = "sending", pgettext_lazy("notification status", "sending")
        SENT = "sent", pgettext_lazy("notification status", "sent")
        FAILED = "failed", pgettext_lazy("notification status", "failed")
        SKIPPED = "skipped", pgettext_lazy("notification status", "skipped")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=20, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    dedupe_key = models.CharField(max_length=300)
    language = models.CharField(max_length=5, choices=Language.choices)
    # Where an email goes when not to the member's current address: a notice to the old
    # address after an email change (``NOTICE_EVENTS``). Empty: the member's address.
    to_address = models.EmailField(blank=True, default="")
    # The variables it was rendered with, and what they rendered to (the parts of
    # the channel: subject, body_text, body_html; or title, body, link).
    context = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    content = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When pending: not before this time. When sending: considered interrupted after it.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The delivery run that claimed the row; only that run may send it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "dedupe_key"], name="notification_dedupe_per_member"
            ),
        ]
        indexes = [
            # The delivery query: due pending rows, and sending rows past their deadline.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_due_idx",
            ),
            models.Index(fields=["member", "-id"], name="notification_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.member} ({self.get_channel_display()})"

    def part(self, name: str) -> str:
        value: Any = self.content.get(name, "")
        return str(value)


# Web push


class PushSubscription(models.Model):
    """A browser where a member accepted push notifications (the browser's PushSubscription).

    The endpoint is the push service's address for that browser: unique, so one
    browser is one row (and belongs to the member who subscribed on it last).
    A row the push service reports gone (404/410) is deleted.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(_("endpoint"), max_length=1000, unique=True)
    # The browser's public key (P-256, urlsafe base64) and auth secret: each message
    # is encrypted for them (RFC 8291), so only that browser can read it.
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)
    # Failures since the last success.
    failure_count = models.PositiveIntegerField(_("failures"), default=0)

    class Meta:
        ordering = ["member", "id"]
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"{self.member} · {urlsplit(self.endpoint).hostname}"

    def info(self) -> dict[str, Any]:
        """The subscription as the browser gave it (what pywebpush expects)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


# Webhooks


class WebhookEvent(models.TextChoices):
    ORDER_RECORDED = "order_recorded", _("order recorded")
    POINTS_EARNED = "points_earned", _("points earned")
    REWARD_ISSUED = "reward_issued", _("reward issued")
    COUPON_REDEEMED = "coupon_redeemed", _("coupon redeemed")
    POINTS_EXPIRED = "points_expired", _("points expired")
    TIER_CHANGED = "tier_changed", _("tier changed")


# Plain HTTP is accepted only for a receiver on this machine (local testing).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def webhook_url_validate(value: str) -> None:
    """An endpoint must be HTTPS, except ``http://127.0.0.1`` or ``http://localhost``, and
    its host a public internet address (``notifications.netguard``) unless
    ``WEBHOOKS_ALLOW_PRIVATE_HOSTS``."""
    parts = urlsplit(value)
    if not (
        (parts.scheme == "https" and parts.hostname)
        or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)
    ):
        raise ValidationError(
            _("Use an https:// address (plain http only for 127.0.0.1 or localhost)."),
            code="insecure_url",
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError(_("The address has an invalid port."), code="invalid_port") from None
    refusal = host_refusal(parts.hostname or "", port)
    if refusal:
        raise ValidationError(refusal, code="private_address")


def webhook_events_validate(value: Any) -> None:
    if not isinstance(value, list) or not all(event in WebhookEvent.values for event in value):
        raise ValidationError(
            _("Choose events among: %(events)s."),
            code="invalid_events",
            params={"events": ", ".join(WebhookEvent.values)},
        )


def webhook_secret_new() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A merchant's receiver of events: each delivery to it is signed with its secret."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("URL"), max_length=500, validators=[webhook_url_validate])
    # Readable by the merchant's staff: they must configure it in their receiver.
    secret = models.CharField(_("signing secret"), max_length=100, default=webhook_secret_new)
    events = models.JSONField(
        _("events"), default=list, blank=True, validators=[webhook_events_validate]
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: the webhook outbox row and the delivery log.

    Life: pending -> sending -> sent; a failure (a non-2xx answer, a network
    error) goes back to pending with a later ``next_attempt_at`` until the
    attempts run out, then failed, with the last status code and error kept.
    """

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook status", "pending")
        SENDING = "sending", pgettext_lazy("webhook status", "sending")
        SENT = "sent", pgettext_lazy("webhook status", "sent")
        FAILED = "failed", pgettext_lazy("webhook status", "failed")

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=20, choices=WebhookEvent.choices)
    dedupe_key = models.CharField(max_length=300)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When pending: not before this time. When sending: considered interrupted after it.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The delivery run that claimed the row; only that run may send it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "dedupe_key"], name="webhook_delivery_dedupe_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhook_delivery_due_idx",
            ),
        ]
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.endpoint_id} #{self.pk}"
