"""Write operations of the notifications app (see STYLE.md): the outbox, unsubscribing and
web push subscriptions.

``notification_enqueue`` is what other apps call, inside their own transaction,
when something happens that a member should hear about; ``notice_enqueue`` for a service
notice to a given address (the old one, after an email change).
"""

from notifications.services.outbox import (
    notice_enqueue,
    notification_enqueue,
    notifications_deliver,
    notifications_fail_interrupted,
    notifications_resend,
)
from notifications.services.push import push_public_key, push_subscribe, push_unsubscribe
from notifications.services.unsubscribe import (
    member_from_token,
    member_unsubscribe_email,
    unsubscribe_token,
    unsubscribe_url,
)

__all__ = [
    "member_from_token",
    "member_unsubscribe_email",
    "notice_enqueue",
    "notification_enqueue",
    "notifications_deliver",
    "notifications_fail_interrupted",
    "notifications_resend",
    "push_public_key",
    "push_subscribe",
    "push_unsubscribe",
    "unsubscribe_token",
    "unsubscribe_url",
]
