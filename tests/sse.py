"""A minimal server-sent-events client over a real HTTP connection, for tests."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ServerEvent:
    type: str
    data: dict
    id: str | None = None


@dataclass
class EventStreamClient:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.connection.request(
            "GET", path, headers={"Accept": "text/event-stream", **self.headers}
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next(self, timeout: float = 10) -> ServerEvent | None:
        """The next event, or None if none came within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while time.monotonic() < deadline:
            self.connection.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                raw = self.response.readline()
            except TimeoutError:
                return None
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.lstrip(" ")
            elif fields:
                return ServerEvent(
                    type=fields.get("event", "message"),
                    data=json.loads(fields.get("data", "{}")),
                    id=fields.get("id"),
                )
        return None

    def take(self, timeout: float = 10) -> ServerEvent:
        """The next event, which must come within `timeout` seconds."""
        event = self.next(timeout)
        assert event is not None, "no event arrived"
        return event

    def collect(
        self, until: Callable[[ServerEvent], bool], timeout: float = 20
    ) -> list[ServerEvent]:
        """Events up to and including the first one for which `until` is true."""
        events: list[ServerEvent] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.next(timeout=deadline - time.monotonic())
            if event is None:
                break
            events.append(event)
            if until(event):
                return events
        raise AssertionError(f"stream ended before the expected event: {events}")

    def close(self) -> None:
        self.connection.close()
