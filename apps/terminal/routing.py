"""The terminal's WebSocket route, mounted by `discobot.routing`."""

from __future__ import annotations

from django.urls import URLPattern, path

# Registers the project_id and session_id path converters.
import discobot.api.converters  # noqa: F401
from apps.terminal.consumers import TerminalConsumer

websocket_urlpatterns: list[URLPattern] = [
    path(
        "api/projects/<project_id:project_id>/sessions/<session_id:session_id>/terminal/ws",
        TerminalConsumer.as_asgi(),
        name="terminal-ws",
    ),
]
