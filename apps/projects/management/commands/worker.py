from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker

from apps.projects.jobs import jobs_recover_stale, worker_name

logger = logging.getLogger("apps.projects.jobs")


def recover_forever(stop: threading.Event) -> None:
    """Finds jobs whose worker died (their lease ran out) and queues them again."""
    while not stop.wait(settings.JOB_LEASE_SECONDS / 2):
        try:
            jobs_recover_stale()
        except Exception:
            logger.exception("job recovery failed; trying again later")
        finally:
            close_old_connections()


class Command(BaseCommand):
    help = "Run background jobs (any number of workers may run against one database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="Exit when no job is ready (for scripts)."
        )

    def handle(self, *args: Any, batch: bool = False, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO)
        jobs_recover_stale()
        worker = Worker(
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
        try:
            if not batch:
                worker.configure_signals()
            worker.run()
        finally:
            stop.set()
