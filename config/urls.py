from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from loyalty.api.guides import guide_page
from loyalty.api.schema import SchemaView
from loyalty.health import healthz, readyz
from loyalty.metrics import metrics_view
from loyalty.views import badge_card_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/backoffice/", include("loyalty.backoffice.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (?script), not inline:
    # the Content-Security-Policy runs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # The guides the reference links to (docs/api/*.md): the quick start, the webhooks.
    path("api/docs/<slug:name>/", guide_page, name="api-guide"),
    path("api/v1/", include("loyalty.api.urls")),
    path("notifications/", include("notifications.urls")),
    path("badge/<str:token>/", badge_card_view, name="badge-card"),
    path("profile/", include("loyalty.profile.urls")),
]

handler500 = "loyalty.api.base.server_error"
