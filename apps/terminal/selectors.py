"""Reads of the terminal app: a session's terminal history."""

from __future__ import annotations

from apps.terminal.models import TerminalHistory
from apps.workspaces.models import Session


def terminal_history_list(
    *, session: Session, limit: int, query: str = ""
) -> list[TerminalHistory]:
    """The session's latest `limit` lines, oldest first; with `query`, its latest lines holding
    that text (any case)."""
    lines = TerminalHistory.objects.filter(session=session).select_related("session")
    if query:
        lines = lines.filter(content__icontains=query)
    return list(reversed(lines.order_by("-line")[:limit]))
