from django.urls import path, re_path

from loyalty.api import base, batch, orders, views
from rewards.api import views as rewards

urlpatterns = [
    path("members/<str:external_id>", views.MemberView.as_view(), name="member"),
    path(
        "members/<str:external_id>/ledger", views.MemberLedgerView.as_view(), name="member-ledger"
    ),
    path(
        "members/<str:external_id>/grants", views.MemberGrantsView.as_view(), name="member-grants"
    ),
    path(
        "members/<str:external_id>/transfers",
        views.MemberTransfersView.as_view(),
        name="member-transfers",
    ),
    path(
        "members/<str:external_id>/tier-history",
        views.MemberTierHistoryView.as_view(),
        name="member-tier-history",
    ),
    path("members/<str:external_id>/badge", views.MemberBadgeView.as_view(), name="member-badge"),
    path(
        "members/<str:external_id>/coupons",
        rewards.MemberCouponsView.as_view(),
        name="member-coupons",
    ),
    path(
        "members/<str:external_id>/rewards",
        rewards.MemberRewardsView.as_view(),
        name="member-rewards",
    ),
    path(
        "members/<str:external_id>/profile-link",
        views.MemberProfileLinkView.as_view(),
        name="member-profile-link",
    ),
    path("orders", orders.OrdersView.as_view(), name="orders"),
    # Before orders/<id>: "quote" is this endpoint, not an order's external id.
    path("orders/quote", orders.OrderQuoteView.as_view(), name="order-quote"),
    path("orders/batch", batch.OrdersBatchView.as_view(), name="orders-batch"),
    path("orders/<str:external_id>", orders.OrderView.as_view(), name="order"),
    path(
        "orders/<str:external_id>/refunds", orders.OrderRefundsView.as_view(), name="order-refunds"
    ),
    path(
        "coupons/<str:code>/validate", rewards.CouponValidateView.as_view(), name="coupon-validate"
    ),
    path("coupons/<str:code>/redeem", rewards.CouponRedeemView.as_view(), name="coupon-redeem"),
    path("coupons/<str:code>/release", rewards.CouponReleaseView.as_view(), name="coupon-release"),
    path("program", views.ProgramView.as_view(), name="program"),
    # Anything else under /api/v1/ answers in the API's error shape, not Django's HTML page.
    re_path(r"^.*$", base.not_found),
]
