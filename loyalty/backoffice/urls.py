"""Backoffice pages under /admin/backoffice/, behind the admin's login."""

from django.contrib import admin
from django.urls import path

from loyalty.backoffice import views

app_name = "backoffice"

guarded = admin.site.admin_view

urlpatterns = [
    path("dashboard.csv", guarded(views.dashboard_csv_view), name="dashboard-csv"),
    path("export/<str:kind>.csv", guarded(views.export_view), name="export"),
    path("bulk/", guarded(views.bulk_upload_view), name="bulk"),
    path("bulk/<int:job_id>/", guarded(views.bulk_job_view), name="bulk-job"),
    path("bulk/<int:job_id>/status", guarded(views.bulk_job_status_view), name="bulk-job-status"),
    path(
        "bulk/<int:job_id>/report.csv", guarded(views.bulk_job_report_view), name="bulk-job-report"
    ),
]
