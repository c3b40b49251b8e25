"""Runs `read_stream.mjs`: our SSE body read by the AI SDK 6 the web app runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

READER = Path(__file__).with_name("read_stream.mjs")


def sdk_read(body: str | bytes) -> dict[str, Any]:
    """`{"chunks": [...], "message": UIMessage}` as the SDK parsed them; fails the test, with
    the SDK's words, when it rejects a chunk."""
    node = shutil.which("node")
    if node is None or not (READER.parent / "node_modules" / "ai").is_dir():
        pytest.fail("the AI SDK reader is not installed: run `npm ci --prefix tests/ai_sdk`")
    data = body.encode() if isinstance(body, str) else body
    result = subprocess.run(
        [node, str(READER)], input=data, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
