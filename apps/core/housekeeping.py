"""Periodic housekeeping: small passes each app registers, run by every `manage.py worker`.

A pass runs once when the worker starts and then every `interval()` seconds (read each time,
so settings apply without a restart). Passes must be safe to run on several workers at once:
they lock what they change. One that fails is logged and runs again at its next turn; a
database outage is waited out as the job recovery loop waits it out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from django.db import DatabaseError, connection

from apps.core.database import DATABASE_OUTAGE, DATABASE_UNAVAILABLE, Backoff, database_unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HousekeepingTask:
    name: str
    run: Callable[[], object]
    interval: Callable[[], float]  # seconds between runs


HOUSEKEEPING: dict[str, HousekeepingTask] = {}


def housekeeping(
    name: str, *, interval: Callable[[], float]
) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Registers a pass run by the worker every `interval()` seconds, and once at its start."""

    def register(run: Callable[[], object]) -> Callable[[], object]:
        HOUSEKEEPING[name] = HousekeepingTask(name=name, run=run, interval=interval)
        return run

    return register


def housekeeping_run(task: HousekeepingTask) -> bool:
    """Runs one pass; False when the database was away (the pass is tried again soon)."""
    try:
        task.run()
    except DATABASE_UNAVAILABLE as error:
        database_unavailable(error)
        return False
    except Exception:
        logger.exception("housekeeping %s failed; it runs again at its next turn", task.name)
    else:
        DATABASE_OUTAGE.recovered()
    finally:
        with suppress(DatabaseError):
            connection.close()
    return True


def housekeeping_forever(stop: threading.Event) -> None:
    """Runs every registered pass now, then each whenever it is due, until `stop` is set."""
    due = dict.fromkeys(HOUSEKEEPING, 0.0)
    backoff = Backoff()
    while not stop.is_set():
        for name, task in HOUSEKEEPING.items():
            if stop.is_set() or due.get(name, 0.0) > time.monotonic():
                continue
            if housekeeping_run(task):
                backoff.reset()
                due[name] = time.monotonic() + task.interval()
            else:
                due[name] = time.monotonic() + backoff.next_delay()
        next_due = min(due.values(), default=time.monotonic() + 60)
        stop.wait(max(0.0, next_due - time.monotonic()))
