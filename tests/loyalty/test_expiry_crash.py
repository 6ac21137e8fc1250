"""The expiry job killed half way (SIGKILL, a real process) and run again: nothing expires twice.

The job runs as ``manage.py run_job expire_points`` in a child process against the test
database; the test waits until some batches have committed, kills the process, and then
runs the job again in process.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from loyalty.models import LedgerEntry, Member, TierDay
from loyalty.services.expiry import points_expire
from loyalty.services.ledger import ledger_audit
from tests.factories import ProgramFactory

# Enough members for about 20 batches of the job's default 1000, so there is a middle to
# kill it in (about 0.4 s a batch on a small machine).
MEMBERS = 20_000
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  # seconds for the child to start and commit its first batch
EXPIRE = LedgerEntry.Kind.EXPIRE


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _due_members(program, now) -> dict[int, int]:
    """MEMBERS members whose whole balance is due, each with the one earning behind it."""
    members = Member.objects.bulk_create(
        Member(
            program=program,
            external_id=f"m-{n}",
            balance=100 + n % 900,
            points_expire_at=now - timedelta(days=1),
            last_order_at=now - timedelta(days=366),
        )
        for n in range(MEMBERS)
    )
    LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                program_id=m.program_id,
                member=m,
                kind=LedgerEntry.Kind.EARN,
                points=m.balance,
                balance_after=m.balance,
                reason="earned before the test",
                idempotency_key=f"seed:{m.pk}",
                created_at=now - timedelta(days=366),
            )
            for m in members
        ),
        batch_size=5000,
    )
    # What ledger_append keeps with each earning (the audit at the end checks it).
    TierDay.objects.bulk_create(
        (
            TierDay(
                program_id=m.program_id,
                member=m,
                day=(now - timedelta(days=366)).astimezone(UTC).date(),
                points=m.balance,
            )
            for m in members
        ),
        batch_size=5000,
    )
    return {m.pk: m.balance for m in members}


JOB_APPNAME = "expiry-crash-test-job"


def _expired() -> int:
    return LedgerEntry.objects.filter(kind=EXPIRE).count()


def _wait_for_other_sessions_to_end(timeout: float = 30) -> None:
    """The killed job's server session rolls back its batch and releases its locks only when
    PostgreSQL notices the client is gone; until then SKIP LOCKED would pass those members by."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [JOB_APPNAME],
            )
            if cursor.fetchone()[0] == 0:
                return
            if time.monotonic() > deadline:
                pytest.fail("the killed job's database session did not end")
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_expiry_job_killed_half_way_is_finished_by_the_rerun_without_double_expiry():
    # given many members whose points are all due, and a ledger that adds up
    now = timezone.now()
    program = ProgramFactory(points_validity_days=365, reset_validity_on_order=True)
    balances = _due_members(program, now)
    assert ledger_audit() == []

    # when the job runs in its own process and is killed after some batches committed
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DEBUG": "false",
        # libpq names the job's session, so the test waits for that one session alone.
        "PGAPPNAME": JOB_APPNAME,
    }
    job = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", "run_job", "expire_points"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while _expired() == 0:
            if job.poll() is not None:
                _, err = job.communicate()
                pytest.fail(f"the job ended before it could be killed: {err.decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the job committed no batch in time")
            time.sleep(0.02)
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait(timeout=30)
        job.stdout.close()  # type: ignore[union-attr]
        job.stderr.close()  # type: ignore[union-attr]
    assert job.returncode == -signal.SIGKILL
    _wait_for_other_sessions_to_end()

    # then it stopped part way, with whole batches done and the ledger still adding up
    expired_by_the_killed_run = _expired()
    assert 0 < expired_by_the_killed_run < MEMBERS
    assert ledger_audit() == []

    # and the rerun expires exactly the members the killed run had not reached
    rerun = points_expire()
    assert rerun.entries == MEMBERS - expired_by_the_killed_run

    per_member = dict(
        LedgerEntry.objects.filter(kind=EXPIRE)
        .values("member")
        .annotate(n=Count("id"))
        .values_list("member", "n")
    )
    assert per_member == dict.fromkeys(balances, 1)
    total = LedgerEntry.objects.filter(kind=EXPIRE).aggregate(s=Sum("points"))["s"]
    assert -total == sum(balances.values())
    assert not Member.objects.filter(program=program, balance__gt=0).exists()
    assert ledger_audit() == []

    # and a third run finds nothing left to expire
    third = points_expire()
    assert (third.members, third.entries, third.points) == (0, 0, 0)
    assert _expired() == MEMBERS
