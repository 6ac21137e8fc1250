"""The rewards and checkout error codes of API.md; each detail tells the customer what to do."""

from django.utils.translation import gettext_lazy as _

from loyalty.errors import Conflict, LoyaltyError, NotFound


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    message = _(
        "There is no coupon with this code. Check it for typos: a code has 15 letters and "
        "digits, like ABCDE-FGHJK-MNPQR."
    )


class CouponExpired(LoyaltyError):
    code = "coupon_expired"
    message = _("This coupon expired on %(date)s and can no longer be used.")


class CouponNotYetValid(LoyaltyError):
    code = "coupon_not_yet_valid"
    message = _("This coupon can be used from %(date)s. Please try again then.")


class CouponAlreadyRedeemed(LoyaltyError):
    code = "coupon_already_redeemed"
    message = _("This coupon has already been used, so it cannot be used again.")


class CouponVoid(LoyaltyError):
    code = "coupon_void"
    message = _("This coupon was cancelled and can no longer be used.")


class CouponWrongMember(LoyaltyError):
    code = "coupon_wrong_member"
    message = _(
        "This coupon belongs to another customer account. Sign in with the account it was "
        "issued to, or remove it from the order."
    )


class CouponMinOrderNotMet(LoyaltyError):
    code = "coupon_min_order_not_met"
    message = _(
        "Add %(missing)s to your order to use this coupon: it applies to orders of at least "
        "%(minimum)s."
    )


class CouponCurrencyMismatch(LoyaltyError):
    code = "currency_mismatch"
    message = _("This coupon is in %(expected)s; the order is in %(given)s.")


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    message = _(
        "Coupon %(code)s was not used on order '%(order)s', so there is nothing to release."
    )


class RewardNotFound(NotFound):
    code = "reward_not_found"
    message = _("This program has no reward at %(points)s points.")


class RewardsAutomatic(LoyaltyError):
    code = "rewards_automatic"
    message = _(
        "This program converts points into coupons automatically; there is nothing to claim."
    )


class RateLimited(LoyaltyError):
    code = "rate_limited"
    status = 429
    message = _(
        "Too many coupon codes that do not exist were tried. Please wait %(seconds)s seconds "
        "before trying again."
    )

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(seconds=retry_after)


class CouponNotVoidable(Conflict):
    code = "coupon_not_voidable"
    message = _("Coupon %(code)s is %(status)s; only an active or expired coupon can be voided.")


class CouponLimitExceeded(LoyaltyError):
    """A support user's coupon beyond the program's limits for support (a manager may)."""

    code = "coupon_limit_exceeded"
    status = 403
    message = _(
        "Your role (support) may not issue this coupon: %(problems)s Lower the terms, or ask "
        "a manager of your shop to issue it."
    )


class CouponLinesRequired(LoyaltyError):
    code = "coupon_lines_required"
    message = _(
        "This coupon applies to %(applies)s: send the order's lines (sku, category, quantity, "
        "unit_price) to use it."
    )


class NoEligibleItems(LoyaltyError):
    """No line of the order is one the coupon applies to. The body also lists the lines
    (``lines``: index, sku, eligible) and the coupon's ``scope``, so a shop can show which
    items would qualify."""

    code = "no_eligible_items"
    message = _(
        "None of the items in this order qualify for this coupon. It applies to %(applies)s: "
        "add such an item to use it."
    )

    def __init__(self, *, applies: str, extra: dict[str, object]) -> None:
        self.extra = extra
        super().__init__(applies=applies)


class CouponMemberRequired(LoyaltyError):
    code = "coupon_member_required"
    message = _(
        "Each customer may use this coupon only a limited number of times: sign in (send the "
        "member) to use it."
    )


class CouponMemberLimitReached(LoyaltyError):
    code = "coupon_member_limit_reached"
    message = _(
        "You have used this coupon as many times as it allows per customer (%(uses)s), so it "
        "cannot be used again."
    )


class CouponAllowanceUsedUp(LoyaltyError):
    code = "coupon_allowance_used_up"
    message = _(
        "This perk's uses for the current period (%(uses)s) are used up. It can be used again "
        "from %(date)s."
    )
