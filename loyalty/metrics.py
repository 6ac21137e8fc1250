"""Prometheus metrics, served at ``/metrics``.

Under gunicorn each worker is its own process with its own counters. Set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory, writable by every worker
and wiped before the server starts, and ``/metrics`` adds up all workers
(prometheus_client's multiprocess mode; see README, Operations). Without it the
numbers are the one process's, which is right for ``runserver`` and tests.

The outbox backlog is not counted as things happen: it is read from the
database at scrape time (one grouped query per outbox), so it is right however
many processes write to the outboxes.
"""

import hashlib
import hmac
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter(
    "loyalty_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "loyalty_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ORDERS = Counter("loyalty_orders_total", "Orders received through the API.", ["result"])
POINTS_ISSUED = Counter("loyalty_points_issued_total", "Points earned on orders or granted.")
POINTS_EXPIRED = Counter("loyalty_points_expired_total", "Points taken by the expiry job.")
# How many single orders each transaction of the group commit (loyalty.storage.group) wrote:
# all 1 on an idle server, more the busier it is.
ORDER_GROUP_SIZE = Histogram(
    "loyalty_order_group_size",
    "Single orders written together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
TASK_FAILURES = Counter("loyalty_task_failures_total", "Celery tasks that raised.", ["task"])


# The labelled series each request updates, found once per label values (``labels()`` checks
# them and looks the series up under a lock on every call). Nothing here removes a series.
@lru_cache(maxsize=1024)
def _request_series(method: str, route: str, status: int) -> tuple[Any, Any]:
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


@lru_cache(maxsize=2)
def _order_series(result: str) -> Any:
    return ORDERS.labels(result)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    count, latency = _request_series(method, route, status)
    count.inc()
    latency.observe(seconds)


def observe_order(*, created: bool, points: int) -> None:
    _order_series("created" if created else "replayed").inc()
    if created and points > 0:
        POINTS_ISSUED.inc(points)


class OutboxBacklogCollector(Collector):
    """Rows waiting to be sent, per outbox: pending and due now, and of those how many
    are overdue by more than OPS_OUTBOX_STALE_MINUTES (what the ops alert fires on)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.utils import timezone

        from notifications.models import Notification, WebhookDelivery

        due = GaugeMetricFamily(
            "loyalty_outbox_backlog", "Outbox rows pending and due now.", labels=["outbox"]
        )
        try:
            now = timezone.now()
            for name, model in (("notifications", Notification), ("webhooks", WebhookDelivery)):
                count = model.objects.filter(status="pending", next_attempt_at__lte=now).count()
                due.add_metric([name], count)
        except DatabaseError:
            return  # /readyz tells that the database is gone; the scrape still answers
        yield due

    def describe(self) -> Iterator[Any]:
        return iter(())  # collected lazily: no query when the collector is registered


_backlog = OutboxBacklogCollector()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    if _backlog not in getattr(registry, "_collector_to_names", {}):
        registry.register(_backlog)
    return registry


def _authorized(header: str, token: str) -> bool:
    """Whether ``header`` is ``Bearer <token>``, in constant time: the digests are compared
    with ``hmac.compare_digest``, so neither a matching prefix nor the token's length
    shows in the time the answer takes."""
    given = hashlib.sha256(header.encode()).digest()
    expected = hashlib.sha256(f"Bearer {token}".encode()).digest()
    return hmac.compare_digest(given, expected)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text format. With METRICS_TOKEN set, only ``Bearer <token>`` may read it
    (production will not start without one unless METRICS_PUBLIC says so)."""
    token = settings.METRICS_TOKEN
    if token and not _authorized(request.headers.get("Authorization", ""), token):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
