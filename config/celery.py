"""The Celery app. With no REDIS_URL (the embedded default) tasks run in process."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_failure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_failure.connect
def _count_failure(sender: Any = None, **kwargs: Any) -> None:
    """Every task that raises counts in loyalty_task_failures_total (see loyalty.metrics)."""
    from loyalty.metrics import TASK_FAILURES

    TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()
