from django.urls import path, re_path

from loyalty.api import views

urlpatterns = [
    path("members/<str:external_id>", views.MemberView.as_view(), name="member"),
    path(
        "members/<str:external_id>/ledger", views.MemberLedgerView.as_view(), name="member-ledger"
    ),
    path(
        "members/<str:external_id>/grants", views.MemberGrantsView.as_view(), name="member-grants"
    ),
    path("orders", views.OrdersView.as_view(), name="orders"),
    path("orders/<str:external_id>", views.OrderView.as_view(), name="order"),
    path(
        "orders/<str:external_id>/refunds", views.OrderRefundsView.as_view(), name="order-refunds"
    ),
    path("program", views.ProgramView.as_view(), name="program"),
    # Anything else under /api/v1/ answers in the API's error shape, not Django's HTML page.
    re_path(r"^.*$", views.not_found),
]
