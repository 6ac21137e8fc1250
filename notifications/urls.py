from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("sw.js", views.push_service_worker, name="push-sw"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
