"""Probes for load balancers and orchestrators.

- ``/healthz``: the process is up and serving (no dependency is touched, so a
  database outage does not get every web process restarted).
- ``/readyz``: the process can do useful work: the database answers, and the
  Celery broker answers when one is configured. 503 with the failing check
  otherwise, so traffic is routed elsewhere until it recovers.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 1.0


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        logger.warning("readyz: database unreachable: %s", exc)
        return "unreachable"
    return "ok"


def _broker() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        logger.warning("readyz: broker unreachable: %s", exc)
        return "unreachable"
    return "ok"


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
