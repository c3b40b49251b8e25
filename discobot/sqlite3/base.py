"""Django's SQLite backend, with writers that take turns.

Every transaction begins `IMMEDIATE` (it takes SQLite's write lock at once, settings.py). A
writer that finds the lock taken sleeps in SQLite's busy handler in growing steps (1, 2, 5 …
100 ms) and tries again, so under a steady stream of writes from the server's processes and
the worker a waiter keeps losing to those that retry sooner: adding workspaces on 16
connections, p99 1.1-1.4 s (docs/decisions.md, "Serving"). Here a transaction first takes an
advisory lock on a file beside the database (`flock`, shared by every process and thread with
a connection to it), polled every fraction of a millisecond, and only then begins: whoever
waits gets the database within a millisecond of its release. A lock not had within the
connection's timeout is SQLite's own "database is locked".
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# Between two tries for the writers' lock: short, so the next writer starts soon after the
# last one commits; a try is one system call.
POLL_SECONDS = (0.0002, 0.0005, 0.001, 0.002)


class DatabaseWrapper(base.DatabaseWrapper):
    writers: int | None = None  # the lock file's descriptor, for a database in a file
    writing = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            # A descriptor per connection: flock is held per open file, so two threads of
            # one process take turns as two processes do.
            self.writers = os.open(f"{conn_params['database']}.writers", os.O_RDWR | os.O_CREAT)
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        self.writers_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private in django-stubs
        except BaseException:
            self.writers_unlock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private in django-stubs
        finally:
            self.writers_unlock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private in django-stubs
        finally:
            self.writers_unlock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # private in django-stubs
        finally:
            self.writers_unlock()
            if self.writers is not None:
                os.close(self.writers)
                self.writers = None

    def writers_lock(self) -> None:
        if self.writers is None or self.writing:
            return
        deadline = time.monotonic() + float(self.settings_dict["OPTIONS"].get("timeout", 5))
        tries = 0
        while True:
            try:
                fcntl.flock(self.writers, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(POLL_SECONDS[min(tries, len(POLL_SECONDS) - 1)])
                tries += 1
        self.writing = True

    def writers_unlock(self) -> None:
        if self.writers is not None and self.writing:
            fcntl.flock(self.writers, fcntl.LOCK_UN)
            self.writing = False
