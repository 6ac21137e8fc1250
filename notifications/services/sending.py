"""What a channel's sender may tell the outbox besides "sent" and "failed, retry later"."""


class Undeliverable(Exception):
    """The message cannot reach the member and retrying will not change that (e.g. every
    push subscription is gone): the row is skipped with this reason, not retried."""
