"""Per-address limits on failed authentication attempts (django-ratelimit counters).

After AUTH_FAILURE_RATE's number of failures in its window, further attempts from that address
are refused with 429 until the window ends. A WebSocket handshake is read into an HttpRequest
(`apps.accounts.websockets`), so its failures land on the same counter as HTTP's.

The counters live in the cache (Redis when configured). When it cannot be reached the limits
fail open: refusing every login and token because a counter is unreadable would turn a Redis
outage into a full one. The failure is logged, and the cache is left alone for a while so that
requests do not each wait for it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from discobot.outages import CacheBreaker

logger = logging.getLogger(__name__)

AUTH_FAILURES = "auth-failures"


CACHE_BREAKER = CacheBreaker("the limit on failed authentication attempts")


def auth_failure_usage(request: HttpRequest, *, increment: bool) -> dict[str, Any] | None:
    """The address's failure counter, or None when it cannot be read (the limit is off)."""
    if not CACHE_BREAKER.available():
        return None
    try:
        usage = get_usage(
            request,
            group=AUTH_FAILURES,
            key="ip",
            rate=settings.AUTH_FAILURE_RATE,
            increment=increment,
        )
    except Exception as error:  # whatever the cache's client raises: connection refused, timeout
        CACHE_BREAKER.failed(error)
        return None
    # django-ratelimit reports a counter it could not read with time_left -1 (failing closed).
    if usage is not None and usage["time_left"] < 0:
        return None
    return cast(dict[str, Any] | None, usage)


def auth_failure_retry_after(request: HttpRequest) -> int | None:
    """Seconds until the address may try again, or None while it is within its allowance."""
    usage = auth_failure_usage(request, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return max(1, int(usage["time_left"]))


def auth_failure_count(request: HttpRequest) -> None:
    auth_failure_usage(request, increment=True)
