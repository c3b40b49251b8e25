"""What every tool of the agent answers with, built in or from an MCP server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolResult:
    """What a call gives the model and the user: `output` (JSON-serialisable) and, when the call
    failed, `error` saying why."""

    output: Any
    error: str | None = None


class ToolError(Exception):
    """A call the tool refuses or that failed: its message is what the model reads."""
