"""What the terminal app hears from the workspaces app (connected in `TerminalConfig.ready`)."""

from __future__ import annotations

import logging
from typing import Any

from apps.terminal.services import transcript_capture
from apps.workspaces.models import Session

logger = logging.getLogger(__name__)


def sandbox_stopping_capture(sender: Any, *, session: Session, **_: Any) -> None:
    """The sandbox's tmux terminals end with it: what they show is recorded first, so that the
    history stays searchable after it is gone. A failed capture never keeps it from stopping."""
    try:
        transcript_capture(session=session, final=True)
    except Exception:
        logger.exception("session %s: the terminal transcript was not captured", session.pk)
