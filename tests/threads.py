"""Real concurrency for tests: calls started together in threads against PostgreSQL."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def at_once(calls):
    """Run the calls in threads released together; the result or exception of each, in order."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def run(call):
        try:
            barrier.wait()
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.exception(timeout=60) or future.result() for future in futures]
