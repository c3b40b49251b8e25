"""Reads of the terminal: the state of the sandbox its shell runs in."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from apps.sandbox.provider import SandboxState
from apps.workspaces.models import Session
from apps.workspaces.sandboxes import session_sandbox_provider
from discobot.errors import ApplicationError


class TerminalStatus(TypedDict, total=False):
    status: str
    error: str
    image: str
    createdAt: datetime
    startedAt: datetime
    stoppedAt: datetime


def terminal_status(*, session: Session) -> TerminalStatus:
    """Contract §5: `unavailable` (no provider can run it here), `not_created`, or the
    provider's state of the sandbox (created, running, stopped) with its image and times."""
    try:
        provider = session_sandbox_provider(session)
    except ApplicationError as unavailable:
        return {"status": "unavailable", "error": unavailable.message}
    info = provider.status(str(session.uuid))
    if info.state == SandboxState.MISSING:
        return {"status": "not_created"}
    status: TerminalStatus = {"status": info.state.value, "image": info.image}
    if info.created_at is not None:
        status["createdAt"] = info.created_at
    if info.started_at is not None:
        status["startedAt"] = info.started_at
    # An engine keeps the last stop time of a sandbox that runs again: only a stopped one has it.
    if info.stopped_at is not None and info.state == SandboxState.STOPPED:
        status["stoppedAt"] = info.stopped_at
    return status
