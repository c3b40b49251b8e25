"""The terminal's pass the worker runs (apps.core.housekeeping)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from apps.core.housekeeping import housekeeping
from apps.terminal.services import terminal_history_prune

DAY_SECONDS = 24 * 60 * 60.0


@housekeeping("terminal history prune", interval=lambda: DAY_SECONDS)
def history_prune() -> int:
    return terminal_history_prune(
        older_than=timedelta(days=settings.TERMINAL_HISTORY_RETENTION_DAYS)
    )
