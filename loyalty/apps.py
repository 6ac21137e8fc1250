from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        from config import celery  # noqa: F401 - the app @shared_task tasks are sent with
        from loyalty.api import schema  # noqa: F401 - registers the OpenAPI auth extension


class LoyaltyAdminConfig(admin_apps.AdminConfig):
    """Django's admin on loyalty's site: the staff sign-in with a second factor."""

    default = False  # named in INSTALLED_APPS; "loyalty" itself stays LoyaltyConfig
    default_site = "loyalty.admin_site.LoyaltyAdminSite"
