"""How a new turn reaches the turn runners at once (in every worker, with Redis; they also
poll). Apart from `runner`, so that the web process never imports the agent's stack."""

from __future__ import annotations

from apps.core.streams import stream_wake

RUNNERS_GROUP = "chat-runners"


def runners_wake() -> None:
    """Tells the turn runners that a turn is waiting."""
    stream_wake(group=RUNNERS_GROUP, seq=0)
