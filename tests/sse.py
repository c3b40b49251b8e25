"""A minimal server-sent-events client over a real HTTP connection, for tests."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
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
    ended: bool = False  # the server closed the stream (or the connection broke)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        # Generous: a loaded machine may take its time to answer (speeds belong in bench/).
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.connection.request(
            "GET", path, headers={"Accept": "text/event-stream", **self.headers}
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status
        # Lines are read by a thread: a read that timed out would leave the socket unusable.
        if self.connection.sock is not None:  # None: the response owns the connection now
            self.connection.sock.settimeout(None)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.fields: dict[str, str] = {}
        threading.Thread(target=self.read_lines, daemon=True).start()

    def read_lines(self) -> None:
        try:
            while raw := self.response.readline():
                self.lines.put(raw)
        except Exception:  # noqa: S110 (the connection broke, or the test closed it under us)
            pass
        finally:
            self.lines.put(None)

    def next(self, timeout: float = 60) -> ServerEvent | None:
        """The next event, or None if none came within `timeout` seconds (or the stream ended)."""
        deadline = time.monotonic() + timeout
        while not self.ended:
            try:
                raw = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if raw is None:
                self.ended = True
                return None
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line:
                name, _, value = line.partition(":")
                self.fields[name] = value.lstrip(" ")
            elif self.fields:
                fields, self.fields = self.fields, {}
                return ServerEvent(
                    type=fields.get("event", "message"),
                    data=json.loads(fields.get("data", "{}")),
                    id=fields.get("id"),
                )
        return None

    def take(self, timeout: float = 60) -> ServerEvent:
        """The next event, which must come within `timeout` seconds."""
        event = self.next(timeout)
        assert event is not None, "no event arrived"
        return event

    def collect(
        self, until: Callable[[ServerEvent], bool], timeout: float = 60
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
        if self.connection.sock is not None:
            with contextlib.suppress(OSError):
                self.connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        self.connection.close()


@dataclass
class BrowserEventSource:
    """What a browser's EventSource does: when the stream ends it connects again, sending the
    id of the last event it received in Last-Event-ID. `events` are all it received, without
    the `connected` greetings; a reconnection refused with an error status is fatal, as in a
    browser (which then stops reconnecting)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[ServerEvent] = field(default_factory=list)
    reconnections: int = 0
    last_id: str | None = None

    def __post_init__(self) -> None:
        self.stream = self.connect()

    def connect(self) -> EventStreamClient:
        headers = dict(self.headers)
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        stream = EventStreamClient(self.url, headers)
        assert stream.status == 200, f"the browser would give up: status {stream.status}"
        assert stream.take().type == "connected"
        return stream

    def collect(self, until: Callable[[ServerEvent], bool], timeout: float = 60) -> None:
        """Receives (and reconnects) until an event for which `until` is true arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.stream.next(timeout=max(0.05, deadline - time.monotonic()))
            if event is None:
                if self.stream.ended:
                    self.stream.close()
                    time.sleep(0.5)  # a browser waits a little (its `retry` delay) too
                    self.reconnections += 1
                    self.stream = self.connect()
                continue
            self.events.append(event)
            if event.id is not None:
                self.last_id = event.id
            if until(event):
                return
        raise AssertionError(f"the expected event did not arrive: {self.events}")

    @property
    def comments(self) -> list[str]:
        return self.stream.comments

    def close(self) -> None:
        self.stream.close()
