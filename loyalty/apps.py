from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self) -> None:
        from config import celery  # noqa: F401 - the app @shared_task tasks are sent with
        from loyalty.api import schema  # noqa: F401 - registers the OpenAPI auth extension
