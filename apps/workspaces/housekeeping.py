"""The sandbox passes the worker runs (apps.core.housekeeping)."""

from __future__ import annotations

from django.conf import settings

from apps.core.housekeeping import housekeeping
from apps.workspaces.sandboxes import sandboxes_reconcile, sandboxes_stop_idle


def reconcile_interval() -> float:
    return float(settings.SANDBOX_RECONCILE_SECONDS)


def idle_interval() -> float:
    # Often enough that a sandbox stops within a fraction of its timeout past it.
    return float(min(settings.SANDBOX_RECONCILE_SECONDS, settings.SANDBOX_IDLE_TIMEOUT / 4))


housekeeping("sandbox reconcile", interval=reconcile_interval)(sandboxes_reconcile)
housekeeping("sandbox idle stop", interval=idle_interval)(sandboxes_stop_idle)
