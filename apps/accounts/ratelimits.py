"""Per-address limits on failed authentication attempts (django-ratelimit counters).

After AUTH_FAILURE_RATE's number of failures in its window, further attempts from that address
are refused with 429 until the window ends.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

AUTH_FAILURES = "auth-failures"


def auth_failure_retry_after(request: HttpRequest) -> int | None:
    """Seconds until the address may try again, or None while it is within its allowance."""
    usage = get_usage(request, group=AUTH_FAILURES, key="ip", rate=settings.AUTH_FAILURE_RATE)
    if usage is None or usage["count"] < usage["limit"]:
        return None
    return max(1, usage["time_left"])


def auth_failure_count(request: HttpRequest) -> None:
    get_usage(
        request,
        group=AUTH_FAILURES,
        key="ip",
        rate=settings.AUTH_FAILURE_RATE,
        increment=True,
    )
