"""A terminal WebSocket client over a socket to a real server (the test environment has no
WebSocket client library): the handshake of `tests.websockets.RawWebSocket`, masked text
frames out, the output of `output` frames gathered."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
from typing import Any

from tests.waiting import wait_for
from tests.websockets import RawWebSocket

TIMEOUT = 60
# bash's prompt ends in "$ ", or "# " for root (the local provider runs as the server's user).
PROMPT_END = re.compile(r"[$#] ")


class TerminalClient(RawWebSocket):
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(url, headers or {})
        self.output = ""  # every `output` frame's data, in order
        self.errors: list[str] = []
        self.close_code: int | None = None

    def send_frame(self, frame: dict[str, Any]) -> None:
        self.send_raw(1, json.dumps(frame).encode())

    def send_raw(self, opcode: int, payload: bytes) -> None:
        """A client's frames are masked (RFC 6455 §5.3)."""
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def type(self, keys: str) -> None:
        self.send_frame({"type": "input", "data": keys})

    def resize(self, rows: int, cols: int) -> None:
        self.send_frame({"type": "resize", "data": {"rows": rows, "cols": cols}})

    def receive_one(self) -> bool:
        """Takes the next frame; False once the server closed."""
        opcode, payload = self.receive()
        if opcode == 9:  # a keep-alive ping: the pong carries its payload back
            self.send_raw(10, payload)
            return True
        if opcode == 8:
            self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
            return False
        assert opcode == 1, f"a frame that is not text: opcode {opcode}"
        frame = json.loads(payload)
        if frame["type"] == "output":
            self.output += frame["data"]
        else:
            assert frame["type"] == "error", frame
            self.errors.append(frame["data"])
        return True

    def output_until(self, needle: str | re.Pattern[str], *, since: int = 0) -> str:
        """The output from `since` on, once it holds `needle`."""

        def found() -> bool:
            text = self.output[since:]
            if isinstance(needle, re.Pattern):
                return needle.search(text) is not None
            return needle in text

        self.sock.settimeout(TIMEOUT)

        def arrived() -> bool:
            return found() or (not self.receive_one() and found())

        wait_for(arrived, timeout=TIMEOUT, interval=0)
        return self.output[since:]

    def run(self, command: str, needle: str | re.Pattern[str]) -> str:
        """Types `command` and Enter; the output that followed, once it holds `needle`."""
        since = len(self.output)
        self.type(command + "\r")
        return self.output_until(needle, since=since)

    def read_to_close(self) -> int | None:
        self.sock.settimeout(TIMEOUT)
        while self.receive_one():
            pass
        return self.close_code

    def leave(self) -> None:
        """Closes as a browser tab does."""
        with contextlib.suppress(OSError):
            self.send_raw(8, b"")
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
