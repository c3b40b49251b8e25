"""Per-address limits on failed authentication attempts (django-ratelimit counters)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

AUTH_FAILURES = "auth-failures"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retry_after_seconds() -> int:
    """The length of the limit's window: an upper bound on the wait."""
    return PERIODS[settings.AUTH_FAILURE_RATE.split("/")[1][-1]]


def auth_failures_exceeded(request: HttpRequest) -> bool:
    return is_ratelimited(
        request, group=AUTH_FAILURES, key="ip", rate=settings.AUTH_FAILURE_RATE, increment=False
    )


def auth_failure_count(request: HttpRequest) -> None:
    is_ratelimited(
        request, group=AUTH_FAILURES, key="ip", rate=settings.AUTH_FAILURE_RATE, increment=True
    )
