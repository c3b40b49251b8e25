from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from apps.core.database import (
    DATABASE_OUTAGE,
    DATABASE_UNAVAILABLE,
    Backoff,
    database_retry,
    database_unavailable,
)
from apps.core.housekeeping import housekeeping_forever
from apps.core.jobs import jobs_recover_stale, worker_name
from apps.core.runners import runners_start

logger = logging.getLogger("apps.core.jobs")

# A supervised worker that keeps dying is restarted after 1 s, 2 s, 4 s, ... at most this long.
RESTART_MAX_SECONDS = 30.0
# A worker that ran this long before it exited is restarted at once.
HEALTHY_RUN_SECONDS = 60.0
# How long a stopping supervisor gives its worker to finish the job in hand.
STOP_GRACE_SECONDS = 30.0


class ResilientWorker(Worker):
    """django-tasks-db's worker loop, waiting out a database outage instead of exiting."""

    def run(self) -> None:
        while True:
            try:
                super().run()
                return
            except DATABASE_UNAVAILABLE as error:
                database_unavailable(error)
            # Back once the database answers; the library's loop then starts over.
            database_retry(connection.ensure_connection)
            self.startup_delay = False
            if not self.running:
                return

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        try:
            super().run_task(db_task_result)
        except DATABASE_UNAVAILABLE as error:
            # `run_job` itself waits out outages, so only the library's record of the task
            # failed to save: save it once the database is back, or it stays "running".
            database_unavailable(error)
            database_retry(lambda: db_task_result.set_successful(None))


def recover_forever(stop: threading.Event) -> None:
    """Finds jobs whose worker died (their lease ran out) and queues them again."""
    interval = settings.JOB_LEASE_SECONDS / 2
    backoff = Backoff()
    wait = interval
    after_outage = False
    while not stop.wait(wait):
        try:
            if after_outage:
                connection.ensure_connection()
                after_outage = False
                # No lease could be renewed during the outage: give running jobs a whole lease
                # to renew theirs before taking them for abandoned.
                wait = settings.JOB_LEASE_SECONDS
                continue
            jobs_recover_stale()
        except DATABASE_UNAVAILABLE as error:
            database_unavailable(error)
            after_outage = True
            wait = backoff.next_delay()
        except Exception:
            logger.exception("job recovery failed; trying again later")
            wait = interval
        else:
            DATABASE_OUTAGE.recovered()
            backoff.reset()
            wait = interval
        finally:
            with suppress(DatabaseError):
                connection.close()


def supervise_worker() -> None:
    """Runs `manage.py worker` in a child process and starts a new one whenever it exits.

    SIGINT and SIGTERM stop the child (passed on once, so it finishes its job) and then the
    supervisor. The child has its own process group: Ctrl-C in a terminal reaches it only
    through the supervisor, not twice (which would make it abandon its job).
    """
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # Passed on once: a second signal (Ctrl-C, then make's trap) would make the child
            # abandon its job.
            return
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    restarts = 0
    while not stopping.is_set():
        started = time.monotonic()
        child = subprocess.Popen(  # noqa: S603 (this server's own manage.py)
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "worker"], process_group=0
        )
        if stopping.is_set():  # the signal came while the child was being started
            child.terminate()
        logger.info("worker started (pid %s)", child.pid)
        code = child.wait()
        if stopping.is_set():
            break
        restarts = 0 if time.monotonic() - started >= HEALTHY_RUN_SECONDS else restarts + 1
        delay = min(RESTART_MAX_SECONDS, 2.0 ** (restarts - 1)) if restarts else 0.0
        logger.warning(
            "worker (pid %s) exited with %s; restarting in %.0f s", child.pid, code, delay
        )
        stopping.wait(delay)
    if child is not None:
        try:
            child.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Command(BaseCommand):
    help = "Run background jobs (any number of workers may run against one database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="Exit when no job is ready (for scripts)."
        )
        parser.add_argument(
            "--supervise",
            action="store_true",
            help="Run the worker in a child process and restart it whenever it exits.",
        )

    def handle(
        self, *args: Any, batch: bool = False, supervise: bool = False, **options: Any
    ) -> None:
        logging.basicConfig(level=logging.INFO)
        if supervise:
            supervise_worker()
            return
        database_retry(jobs_recover_stale)
        worker = ResilientWorker(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=settings.WORKER_POLL_SECONDS,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not batch,
            max_tasks=None,
            worker_id=worker_name(),
            excluded_queue_names=[],
        )
        stop = threading.Event()
        threading.Thread(target=recover_forever, args=(stop,), daemon=True).start()
        runners: list[threading.Thread] = []
        if not batch:
            threading.Thread(target=housekeeping_forever, args=(stop,), daemon=True).start()
            runners = runners_start(stop)
        try:
            if not batch:
                worker.configure_signals()
            worker.run()
        finally:
            stop.set()
            for thread in runners:  # they save what they were doing
                thread.join(STOP_GRACE_SECONDS)
