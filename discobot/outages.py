"""Dependencies that stop answering (the database, Redis): reported once, not once per call.

Every request, stream or loop that meets an outage reports it here, so the log gets one line
when the dependency goes and one when it is back, never a traceback per failed call.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)

# After the cache failed, what depends on it stays off this long before the cache is tried again.
CACHE_RETRY_SECONDS = 10.0


class DependencyOutage:
    """Logs that a dependency stopped answering, and that it is back, once each per outage.

    Every request, stream or loop that meets the outage reports it; the log gets two lines, not
    one traceback per failed call.
    """

    def __init__(self, name: str, consequence: str) -> None:
        self.name = name
        self.consequence = consequence
        self._lock = threading.Lock()
        self._since: float | None = None

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        logger.warning("%s unavailable (%s); %s", self.name, reason, self.consequence)

    def recovered(self) -> None:
        with self._lock:
            if self._since is None:
                return
            down = time.monotonic() - self._since
            self._since = None
        logger.warning("%s available again after %.1f s", self.name, down)


class CacheBreaker:
    """Skips the cache for CACHE_RETRY_SECONDS after it failed; logs once per such pause."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._closed_until = 0.0

    def available(self) -> bool:
        return time.monotonic() >= self._closed_until

    def failed(self, error: Exception) -> None:
        with self._lock:
            if not self.available():
                return
            self._closed_until = time.monotonic() + CACHE_RETRY_SECONDS
        logger.warning(
            "%s is off for %.0f s: the cache is unavailable (%s)",
            self.what,
            CACHE_RETRY_SECONDS,
            error,
        )
