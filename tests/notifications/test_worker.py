"""The production shape: a committed transaction hands its notification to a real Celery
worker through the real Redis, and the worker delivers it (to a file mailbox it shares
with this test)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from config.celery import app
from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.tasks import deliver
from tests.factories import MemberFactory, ProgramFactory

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """This test's database (pytest-django's, per xdist worker), for the Celery worker."""
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path):
    """A Celery worker process on its own queue; yields (queue, mailbox directory)."""
    assert settings.REDIS_URL, "the worker test needs real Redis: set REDIS_URL"
    queue = f"notifications-test-{uuid.uuid4().hex[:12]}"
    mailbox = tmp_path / "mail"
    mailbox.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_URL": f"filemail:///{mailbox}",  # django-environ drops one slash
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
               "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--loglevel=INFO"]  # fmt: skip
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield queue, mailbox
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        with app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)


def test_a_real_worker_delivers_a_committed_notification(worker, monkeypatch):
    queue, mailbox = worker
    app.conf.update(task_always_eager=False)  # the real broker (restored after the test)
    monkeypatch.setattr(
        deliver, "delay", lambda **kwargs: deliver.apply_async(kwargs=kwargs, queue=queue)
    )
    member = MemberFactory(program=ProgramFactory())

    with transaction.atomic():
        (row,) = notification_enqueue(
            member=member, event="points_granted", occasion="grant-1", context={"points": 25}
        )

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row.refresh_from_db()
        # pending, then sending (claimed), then sent: wait for a final state
        if row.status not in (Notification.Status.PENDING, Notification.Status.SENDING):
            break
        time.sleep(0.2)
    assert row.status == Notification.Status.SENT, row.last_error
    (message,) = [path.read_text() for path in Path(mailbox).iterdir()]
    assert f"To: {member.email}" in message
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in message
    assert "You received 25 points" in message
