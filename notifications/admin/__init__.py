"""The notifications backoffice: a merchant's templates with a live preview, and the outbox.

Invariants kept here:
- Scoped like every backoffice page (``MerchantScopedAdmin``): staff see, add
  and change only their merchant's templates and notifications.
- A template is checked on save (``NotificationTemplate.clean``: it compiles
  in the sandbox and uses only documented variables); a refusal is shown on
  the part that caused it, never stored.
- The outbox is read-only. "Resend" puts failed rows back in the queue
  (``notifications_resend``); a sent row is never sent again from here.
- Push subscriptions (members' browsers) are read-only: they come and go with
  the members' choices and the push services' answers.
- Webhook endpoints are the merchant's own: its managers add, change, delete
  them and rotate their signing secrets (``notifications.services.webhook_endpoints``,
  which checks the role and audits); every role sees their URL and events. A
  secret is shown once, to the manager who made the endpoint or rotated its
  secret, in a message; the page shows only its last characters. The delivery
  log is read-only, with a "resend" for failed deliveries (``webhooks_resend``).
"""

from notifications.admin import outbox, templates, webhooks  # noqa: F401 - registers their admins
