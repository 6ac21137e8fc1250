"""gunicorn settings: ``gunicorn config.wsgi -c config/gunicorn.py``.

With PROMETHEUS_MULTIPROC_DIR set (an empty directory, wiped before each start),
each worker writes its metrics there and ``/metrics`` adds them up; a worker
that exits has its live gauges dropped here.
"""

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads: a worker serves several requests at once, and single orders that arrive together
# are written in one transaction (loyalty.services.order_group).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A batch of 1,000 orders takes seconds (more on a loaded machine): gunicorn's default 30 s
# would kill the worker mid-batch (the batch rolls back; its retry is safe, but wasted).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Our access log line (with the request id) is written by the application.
accesslog = None


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
