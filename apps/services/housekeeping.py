"""The services pass the worker runs (apps.core.housekeeping)."""

from __future__ import annotations

from django.conf import settings

from apps.core.housekeeping import housekeeping
from apps.services.services import service_runs_watch


def watch_interval() -> float:
    # A third of the lease: a live run's SandboxUse never expires while the worker runs.
    return float(settings.SANDBOX_USE_LEASE_SECONDS) / 3


housekeeping("service run watch", interval=watch_interval)(service_runs_watch)
