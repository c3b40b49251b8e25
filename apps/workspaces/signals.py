"""Signals of the workspaces app for the apps above it (which it must not import)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `session` just before its sandbox is stopped (idle) or removed (the session, its
# workspace or its project deleted), while the sandbox still runs: the terminal saves what its
# shells showed. A receiver that fails is logged and does not keep the sandbox up.
sandbox_stopping = Signal()
