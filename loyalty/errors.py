"""One error vocabulary for the whole program.

A service raises ``LoyaltyError`` subclasses; each carries the machine code of
API.md, an HTTP status and a human detail that tells the customer or the
integrator what to do. The API's exception handler turns them into
``{"code", "detail", "fields"?}``; the admin shows ``detail``. Details are
lazily translated, so they follow the request's language.
"""

from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 422
    message: ClassVar[str | Promise] = _("The request could not be processed.")

    def __init__(self, detail: str | Promise | None = None, **params: Any) -> None:
        self.params = params
        template = detail if detail is not None else self.message
        self._template = template
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        """The message in the active language, with its parameters filled in."""
        return str(self._template) % self.params if self.params else str(self._template)


class NotFound(LoyaltyError):
    status = 404


class Conflict(LoyaltyError):
    status = 409


class InvalidInput(LoyaltyError):
    """Bad input found by a service (the serializers catch most of it earlier)."""

    code = "validation_error"
    status = 400

    def __init__(self, fields: dict[str, list[str]], detail: str | Promise | None = None) -> None:
        self.fields = fields
        super().__init__(detail or _("Some fields are invalid; see 'fields'."))


class PayloadTooLarge(LoyaltyError):
    """A body over the size the API reads (``DATA_UPLOAD_MAX_MEMORY_SIZE``); none of it is read."""

    code = "payload_too_large"
    status = 413
    message = _(
        "The request body is larger than %(limit)s bytes, the most this API accepts. "
        "Send less at once: split a batch into smaller ones."
    )


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = _("No member with external id '%(external_id)s' in this program.")


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = _("No order with external id '%(external_id)s' in this program.")


class OrderConflict(Conflict):
    code = "order_conflict"
    message = _(
        "Order '%(external_id)s' was already recorded with different data. "
        "Send the same body to read it again, or use a new external id."
    )


class RefundConflict(Conflict):
    code = "refund_conflict"
    message = _(
        "Refund '%(external_id)s' of this order was already recorded with a different amount."
    )


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    message = _(
        "This Idempotency-Key was already used with a different request. "
        "Use a new key for a new request."
    )


class CurrencyMismatch(LoyaltyError):
    code = "currency_mismatch"
    message = _("This program works in %(expected)s; the amount was sent in %(given)s.")


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    message = _(
        "The member has %(balance)s points; %(points)s cannot be taken without going below zero."
    )


class GrantConfirmationRequired(LoyaltyError):
    """A change of more points than the program's ``grant_confirmation_points``, not confirmed
    (``points_grant``'s ``confirmed``): nothing was changed."""

    code = "grant_confirmation_required"
    message = _(
        "%(points)s points is more than the %(limit)s points this program changes without a "
        "second confirmation. Check the amount, then confirm it."
    )


class RefundExceedsOrder(LoyaltyError):
    code = "refund_exceeds_order"
    message = _(
        "Only %(refundable)s %(currency)s of order '%(external_id)s' is left to refund; "
        "%(amount)s %(currency)s was asked."
    )


class TransfersDisabled(LoyaltyError):
    code = "transfers_disabled"
    message = _("This program does not allow members to transfer points.")


class TransferLimitExceeded(LoyaltyError):
    code = "transfer_limit_exceeded"
    message = _(
        "A member may give at most %(limit)s points a month; %(given)s were given this "
        "month, so at most %(left)s more."
    )


class SignInLinkInvalid(LoyaltyError):
    code = "sign_in_link_invalid"
    status = 400
    message = _(
        "This sign-in link has expired or was already used. Ask for a new one: links work "
        "once, for a few minutes."
    )


class SignInRateLimited(LoyaltyError):
    code = "rate_limited"
    status = 429
    message = _("Too many sign-in links were asked for. Please wait %(minutes)s minutes.")

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(minutes=max(1, -(-retry_after // 60)))


class TransferRateLimited(LoyaltyError):
    code = "rate_limited"
    status = 429
    message = _(
        "Too many transfers were tried. Please wait %(minutes)s minutes before trying again."
    )

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(minutes=max(1, -(-retry_after // 60)))


class TwoFactorCodeInvalid(LoyaltyError):
    code = "two_factor_code_invalid"
    status = 400
    message = _(
        "That code is not right, was already used, or came too soon after a wrong one. "
        "Wait for the next code in your authenticator app and type it."
    )


class TwoFactorCodeMissing(TwoFactorCodeInvalid):
    code = "two_factor_code_missing"
    message = _(
        "This account uses two-factor authentication: type the code your authenticator app shows."
    )


class TwoFactorRequired(LoyaltyError):
    code = "two_factor_required"
    status = 409
    message = _(
        "Staff must use two-factor authentication here, so it cannot be turned off. "
        "A superuser can remove a lost device; you then set up a new one at sign-in."
    )


class ValidityModeLocked(LoyaltyError):
    code = "validity_mode_locked"
    message = _(
        "Members already hold points under the current expiry mode; it can no longer change. "
        "Points validity in days can still be changed."
    )


class CurrencyLocked(LoyaltyError):
    code = "currency_locked"
    message = _(
        "The program already has orders in %(currency)s; its currency can no longer change."
    )
