"""Waiting out a database that went away (restarted, refused, out of connections).

Long-lived loops (the job worker, event streams) meet an outage instead of ending: they retry
with capped backoff, and the outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from discobot.outages import DependencyOutage

T = TypeVar("T")

# What a database that went away raises.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
DATABASE_OUTAGE = DependencyOutage("database", "retrying with backoff")
FIRST_RETRY_SECONDS = 0.5


class Backoff:
    """Capped exponential backoff with jitter, so that workers do not retry in step."""

    def __init__(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(
            float(settings.DATABASE_RETRY_MAX_SECONDS), FIRST_RETRY_SECONDS * 2.0**self.failures
        )
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)  # noqa: S311 (not cryptography)

    def reset(self) -> None:
        self.failures = 0


def database_unavailable(error: BaseException) -> None:
    """Notes the outage and drops this thread's connection, which a lost server left broken."""
    DATABASE_OUTAGE.failed(error)
    with suppress(DatabaseError):
        connection.close()


def database_retry(operation: Callable[[], T]) -> T:
    """Runs `operation` until the database answers; it must be safe to run again."""
    backoff = Backoff()
    while True:
        try:
            result = operation()
        except DATABASE_UNAVAILABLE as error:
            database_unavailable(error)
            time.sleep(backoff.next_delay())
        else:
            DATABASE_OUTAGE.recovered()
            return result


def database_connection_lost() -> bool:
    """After a database error: whether the server went away, rather than the query failing."""
    return connection.connection is None or not connection.is_usable()
