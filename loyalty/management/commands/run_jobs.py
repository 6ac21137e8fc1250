"""``run_jobs``: the embedded scheduler, for a machine without a broker.

It runs the tasks of ``settings.CELERY_BEAT_SCHEDULE`` in this process, each at
its schedule, the way celery beat plus a worker would. The schedule lives only
in settings; this reads it. ``--once`` runs every task once and exits.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery.schedules import BaseSchedule, maybe_schedule
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from config.celery import app

logger = logging.getLogger("loyalty.run_jobs")

# Wake up at least this often, so a changed clock or a long task cannot stall the loop.
MAX_SLEEP_SECONDS = 60.0


@dataclass
class Job:
    name: str
    task: str
    schedule: BaseSchedule
    last_run_at: datetime


def scheduled_jobs() -> list[Job]:
    """The beat schedule from settings, each entry as not run since now."""
    now = app.now()
    jobs = []
    beat_schedule: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
    for name, entry in beat_schedule.items():
        schedule = maybe_schedule(entry["schedule"], app=app)
        assert isinstance(schedule, BaseSchedule)
        jobs.append(Job(name=name, task=entry["task"], schedule=schedule, last_run_at=now))
    return jobs


class Command(BaseCommand):
    help = "Run the scheduled jobs (settings.CELERY_BEAT_SCHEDULE) in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Run every scheduled task once, then exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app.loader.import_default_modules()  # registers the apps' tasks (autodiscovery)
        jobs = scheduled_jobs()
        unknown = sorted(job.task for job in jobs if job.task not in app.tasks)
        if unknown:
            raise CommandError(f"Scheduled tasks not found: {', '.join(unknown)}")
        if options["once"]:
            failed = []
            for job in jobs:
                ok, summary = self.run(job)
                (self.stdout if ok else self.stderr).write(summary)
                if not ok:
                    failed.append(job.name)
            if failed:
                raise CommandError(f"Failed: {', '.join(failed)}")
            return
        self.stdout.write(f"Running {len(jobs)} scheduled job(s); Ctrl-C to stop.")
        try:
            while True:
                time.sleep(self.tick(jobs))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def tick(self, jobs: list[Job]) -> float:
        """Run the jobs that are due; return how long to sleep before the next one."""
        sleep = MAX_SLEEP_SECONDS
        for job in jobs:
            due, next_in = job.schedule.is_due(job.last_run_at)
            if due:
                job.last_run_at = app.now()
                # A long-lived process must not keep a connection the database dropped.
                close_old_connections()
                self.run(job)
                close_old_connections()
                due, next_in = job.schedule.is_due(job.last_run_at)
            sleep = min(sleep, float(next_in))
        return max(sleep, 1.0)

    def run(self, job: Job) -> tuple[bool, str]:
        """Run one task in this process and log it; a failure does not stop the loop."""
        started = time.monotonic()
        result = app.tasks[job.task].apply(throw=False)
        elapsed = time.monotonic() - started
        if result.failed():
            # Celery's tracer has logged the traceback already.
            logger.error("job %s (%s) failed after %.2fs", job.name, job.task, elapsed)
            return False, f"{job.name}: {job.task} failed: {result.result!r}"
        logger.info("job %s (%s) done in %.2fs: %r", job.name, job.task, elapsed, result.result)
        return True, f"{job.name}: {job.task} done in {elapsed:.2f}s: {result.result!r}"
