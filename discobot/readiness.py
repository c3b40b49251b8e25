"""What `/readyz` asks: the platform's own dependencies, and checks the apps register.

A check returns `{"status": "ok"}` or `{"status": "error", "error": "..."}`. Apps register
theirs (`readiness_check("worker")`) so that this platform module never imports an app.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection

Check = Callable[[], dict[str, str]]
CHECK_OK = {"status": "ok"}
CHECKS: dict[str, Check] = {}


def readiness_check(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        CHECKS[name] = check
        return check

    return register


def checks_run() -> dict[str, dict[str, str]]:
    results = {"database": database_check()}
    if settings.REDIS_URL:
        results["redis"] = redis_check()
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except DatabaseError:
            results[name] = {
                "status": "error",
                "error": "Unknown while the database is unavailable",
            }
    return results


def database_check() -> dict[str, str]:
    if connection.vendor == "sqlite" and not sqlite_file_in_place():
        return {"status": "error", "error": "Database unavailable"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"status": "error", "error": "Database unavailable"}
    return CHECK_OK


def sqlite_file_in_place() -> bool:
    """Whether the SQLite file is still where the settings say. Moved or deleted under the
    server, it stays readable through the connections the request threads hold, and what they
    write to it is lost."""
    name = str(connection.settings_dict["NAME"])
    return name == ":memory:" or name.startswith("file:") or os.path.exists(name)


def redis_check() -> dict[str, str]:
    """The cache (rate limits, stream slots) and the channel layer (event wake-ups)."""

    async def channel_layer_send() -> None:
        layer = get_channel_layer()
        await asyncio.wait_for(
            layer.group_send("readyz", {"type": "readyz.probe"}), settings.REDIS_TIMEOUT_SECONDS
        )

    try:
        cache.get("readyz")
        async_to_sync(channel_layer_send)()
    except Exception:  # whatever the Redis client raises: refused, timeout
        return {"status": "error", "error": "Redis unavailable"}
    return CHECK_OK
