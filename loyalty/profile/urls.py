from django.urls import path

from loyalty.profile import sign_in_views, views

app_name = "profile"

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-out/", sign_in_views.sign_out, name="sign-out"),
    path("language/", views.language, name="language"),
    path("notifications/", views.notification_settings, name="notifications"),
    path("rewards/claim/", views.claim, name="claim"),
    path("coupons/", views.coupons, name="coupons"),
    path("transfer/", views.transfer, name="transfer"),
    path("feedback/", views.feedback, name="feedback"),
    path("badge/", views.badge, name="badge"),
    path("push/subscribe/", views.push_subscribe, name="push-subscribe"),
    path("push/unsubscribe/", views.push_unsubscribe, name="push-unsubscribe"),
    path("link/<str:token>/", sign_in_views.deep_link, name="deep-link"),
    path("<slug:slug>/", sign_in_views.merchant_home, name="merchant"),
    path("<slug:slug>/sign-in/", sign_in_views.sign_in, name="sign-in"),
    # A path: an external id may hold a slash.
    path("<slug:slug>/invite/<path:code>/", sign_in_views.invite, name="invite"),
    path("<slug:slug>/sign-in/<str:token>/", sign_in_views.email_link, name="email-link"),
]
