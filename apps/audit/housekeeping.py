"""The audit log's pass the worker runs (apps.core.housekeeping)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from apps.audit.services import audit_prune
from apps.core.housekeeping import housekeeping

DAY_SECONDS = 24 * 60 * 60.0


@housekeeping("audit log prune", interval=lambda: DAY_SECONDS)
def audit_log_prune() -> int:
    return audit_prune(older_than=timedelta(days=settings.AUDIT_RETENTION_DAYS))
