"""Reads of the terminal app: a session's terminal history, the state of its sandbox."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from apps.sandbox.provider import SandboxState
from apps.terminal.models import TerminalHistory
from apps.workspaces.models import Session
from apps.workspaces.sandboxes import session_sandbox_provider
from apps.workspaces.selectors import session_sandbox_status
from discobot.errors import ApplicationError


def terminal_history_list(
    *, session: Session, limit: int, query: str = ""
) -> list[TerminalHistory]:
    """The session's latest `limit` lines, oldest first; with `query`, its latest lines holding
    that text (any case)."""
    lines = TerminalHistory.objects.filter(session=session).select_related("session")
    if query:
        lines = lines.filter(content__icontains=query)
    return list(reversed(lines.order_by("-line")[:limit]))


class TerminalStatus(TypedDict, total=False):
    status: str
    error: str
    image: str
    createdAt: datetime
    startedAt: datetime
    stoppedAt: datetime


def terminal_status(*, session: Session) -> TerminalStatus:
    """Contract §5: `unavailable` (its provider cannot be asked now), `not_created`, or the
    provider's state of the sandbox (created, running, stopped) with its image and times."""
    try:
        info = session_sandbox_status(session)
        if info is None:
            session_sandbox_provider(session)  # could one be made here now?
    except ApplicationError as unavailable:
        return {"status": "unavailable", "error": unavailable.message}
    if info is None:
        return {"status": "not_created"}
    status: TerminalStatus = {"status": info.state.value, "image": info.image}
    if info.created_at is not None:
        status["createdAt"] = info.created_at
    if info.started_at is not None:
        status["startedAt"] = info.started_at
    # An engine keeps the last stop time of a sandbox that runs again: only a stopped one has it.
    if info.stopped_at is not None and info.state == SandboxState.STOPPED:
        status["stoppedAt"] = info.stopped_at
    if info.error:
        status["error"] = info.error
    return status
