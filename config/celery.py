"""The Celery app: `celery -A config worker` and exactly one `celery -A config beat`."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_failure

# A server started without DJANGO_SETTINGS_MODULE runs as production does, never with DEBUG
# or the development SECRET_KEY (`make run` and manage.py choose the local settings).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_failure.connect
def _count_failure(sender: Any = None, **kwargs: Any) -> None:
    """Every task that raises counts in loyalty_task_failures_total (see loyalty.metrics)."""
    from loyalty.metrics import TASK_FAILURES

    TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()
