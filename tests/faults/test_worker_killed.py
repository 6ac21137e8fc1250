"""A Celery worker process killed (SIGKILL, as the OOM killer does) in the middle of a task:
the task runs again and its effect happens once.

The expiry job runs in a real prefork worker through a private Redis. Once some of its
batches have committed, the pool process running it is killed; the worker notices the lost
process and, the task being ``acks_late`` with ``reject_on_worker_lost``, puts it back on
the queue; a fresh pool process runs it again and finishes: every due member expired
exactly once, and the ledger still adds up.
"""

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from loyalty.models import LedgerEntry, Member
from loyalty.services.expiry import points_expire
from loyalty.services.ledger import ledger_audit
from loyalty.tasks import expire_points
from tests.factories import ProgramFactory
from tests.faults.conftest import wait_until
from tests.loyalty.test_expiry_crash import _due_members

pytestmark = pytest.mark.django_db(transaction=True)
EXPIRE = LedgerEntry.Kind.EXPIRE


def _expired() -> int:
    return LedgerEntry.objects.filter(kind=EXPIRE).count()


def _pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in children.read_text().split()] if children.exists() else []


def test_a_task_killed_midway_runs_again_without_a_duplicate_effect(
    redis_server, broker_at, start_worker, monkeypatch
):
    monkeypatch.setattr("tests.loyalty.test_expiry_crash.MEMBERS", 10_000)
    program = ProgramFactory(points_validity_days=365, reset_validity_on_order=True)
    balances = _due_members(program, timezone.now())
    redis_server.start()
    broker_at(redis_server.url)
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    worker = start_worker(redis_server.url, queue, pool="prefork")

    expire_points.apply_async(queue=queue)
    wait_until(lambda: _expired() > 0, 120, "the job committed no batch in time", 0.02)
    [pool_process] = _pool_children(worker.pid)
    os.kill(pool_process, signal.SIGKILL)
    killed_at = _expired()

    # The worker replaces the lost process and the task runs again to the end.
    wait_until(lambda: _expired() == len(balances) or worker.poll() is not None, 180,
               "the killed task was not run again to the end", 0.2)  # fmt: skip
    assert worker.poll() is None
    assert killed_at < len(balances)
    time.sleep(1)  # nothing more arrives: the rerun did not expire anyone twice
    per_member = dict(
        LedgerEntry.objects.filter(kind=EXPIRE)
        .values("member")
        .annotate(n=Count("id"))
        .values_list("member", "n")
    )
    assert per_member == dict.fromkeys(balances, 1)
    assert not Member.objects.filter(program=program, balance__gt=0).exists()
    assert ledger_audit() == []
    assert points_expire().entries == 0
