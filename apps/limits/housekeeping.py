"""The limits' pass the worker runs (apps.core.housekeeping)."""

from __future__ import annotations

from apps.core.housekeeping import housekeeping
from apps.limits.services import limit_usages_prune

DAY_SECONDS = 24 * 60 * 60.0


@housekeeping("limit counters prune", interval=lambda: DAY_SECONDS)
def limit_counters_prune() -> int:
    return limit_usages_prune()
