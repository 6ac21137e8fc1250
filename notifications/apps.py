from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The delivery tasks, registered by name in every process: the services hand work to
        # them by name (``current_app.tasks[...]``), as they cannot import the tasks module,
        # which imports them.
        from notifications import tasks  # noqa: F401
