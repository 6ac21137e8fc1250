"""The email channel: one outbox row becomes one message through Django's email backend.

Every message carries a text and (when the template has one) an HTML body,
and the List-Unsubscribe headers of RFC 2369 / RFC 8058, so mail clients
offer a one-click unsubscribe that turns the member's email consent off.
Service notices (``NOTICE_EVENTS``) go to the address stored on the row, whatever the
member's consent, and without those headers: there is nothing to unsubscribe from.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from notifications.models import NOTICE_EVENTS, Notification
from notifications.services.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)


class EmailNotSent(Exception):
    """The backend returned without sending (it reported 0 messages sent)."""


def email_message(
    notification: Notification, *, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    member = notification.member
    headers = {"Auto-Submitted": "auto-generated"}
    if notification.event not in NOTICE_EVENTS:
        url = unsubscribe_url(member=member)
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            **headers,
        }
    message = EmailMultiAlternatives(
        subject=notification.part("subject"),
        body=notification.part("body_text"),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient(notification)],
        headers=headers,
        connection=connection,
    )
    html = notification.part("body_html")
    if html:
        message.attach_alternative(html, "text/html")
    return message


def recipient(notification: Notification) -> str:
    """The address a notification's email goes to: its own, else the member's current one."""
    return notification.to_address or notification.member.email


class EmailSender:
    """Sends a delivery run's emails over one backend connection."""

    def __init__(self) -> None:
        self.connection = get_connection()
        try:
            self.connection.open()
        except Exception:
            # The mail server is down: each send tries again and fails cleanly,
            # so every row gets its retry with backoff.
            logger.warning("could not open the email connection", exc_info=True)

    def refusal(self, notification: Notification) -> str:
        """Why this email must not go out now (stored on the skipped row); empty if it may."""
        member = notification.member
        if notification.event not in NOTICE_EVENTS and not member.consent_email:
            return "The member does not consent to email (anymore)."
        if not recipient(notification):
            return "The member has no email address."
        return ""

    def send(self, notification: Notification) -> None:
        try:
            sent = email_message(notification, connection=self.connection).send()
        except Exception:
            self._reset()
            raise
        if sent != 1:
            raise EmailNotSent("the email backend sent nothing")

    def _reset(self) -> None:
        # After an error the connection may be broken; the next send opens a new one.
        try:
            self.connection.close()
        except Exception:
            logger.debug("closing a failed email connection", exc_info=True)

    def close(self) -> None:
        self._reset()
