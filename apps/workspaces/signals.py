"""Signals the workspaces app sends about a session's sandbox."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `session=` before the session's sandbox is stopped (idle) or removed, while what
# runs in it can still be read.
sandbox_stopping = Signal()
