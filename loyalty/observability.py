"""Request ids, structured logs and Prometheus metrics for every request.

- Each request gets an id: the caller's ``X-Request-ID`` when it is a sane
  token (so a proxy's id carries through), else a new one. It is echoed in the
  response's ``X-Request-ID`` header and stamped on every log line written while
  the request runs (``request_id``), also by libraries.
- ``JsonFormatter`` writes one JSON object per log line (``LOG_FORMAT=json``,
  the production default), so log shippers need no parsing rules.
- Metrics are ``prometheus_client`` objects (see ``loyalty.metrics``), labelled
  by the URL pattern's name, never the raw path, so the number of series stays
  bounded whatever callers send.
"""

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from loyalty import metrics

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("loyalty.request")


def current_request_id() -> str:
    """The id of the request being served in this thread, or "-" outside of one."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` so any formatter can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


# The attributes every LogRecord has; anything else was passed with ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


# One encoder for every line (json.dumps with ``default`` would make a new one each time).
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


class RequestObservabilityMiddleware:
    """Request id, one access-log line and the request metrics for each request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # META, not request.headers: that mapping of every header is built on first use.
        given = request.META.get(REQUEST_ID_META, "")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        # Cleared when the response is finished (request_finished), not when this returns:
        # Django logs a 4xx/5xx answer ("django.request") after the middleware chain.
        request_id_var.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = _route(request)
        response[REQUEST_ID_HEADER] = request_id
        metrics.observe_request(
            method=request.method or "", route=route, status=response.status_code,
            seconds=elapsed,
        )  # fmt: skip
        if route not in QUIET_ROUTES and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "route": route,
                },
            )
        return response


def _request_finished(**kwargs: object) -> None:
    request_id_var.set("-")


request_finished.connect(_request_finished, dispatch_uid="loyalty.observability.request_id")


# Probes and scrapes every few seconds would drown the access log.
QUIET_ROUTES = {"healthz", "readyz", "metrics"}
