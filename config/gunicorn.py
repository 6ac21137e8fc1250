"""gunicorn settings: ``gunicorn config.wsgi -c config/gunicorn.py``.

With PROMETHEUS_MULTIPROC_DIR set (an empty directory, wiped before each start),
each worker writes its metrics there and ``/metrics`` adds them up; a worker
that exits has its live gauges dropped here.
"""

import gc
import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# A worker a core, each serving many requests at once on threads: single orders that
# arrive together in a worker are written in one transaction (loyalty.storage.group),
# so fewer, busier workers write bigger groups (2 x 16 did better than 4 x 8 on 2 cores).
workers = int(os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 2)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# A batch of 1,000 orders takes seconds (more on a loaded machine): gunicorn's default 30 s
# would kill the worker mid-batch (the batch rolls back; its retry is safe, but wasted).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Our access log line (with the request id) is written by the application.
accesslog = None


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """The application is loaded: its objects live as long as the worker, so the cyclic
    garbage collector stops walking them (a full collection walked some 140,000 of them:
    about 0.2 s, in the middle of a request). And it runs less often: a batch of 1,000 orders
    made some 70 young collections, now a handful (GC time of a batch: 11% to 2%)."""
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
