"""Log lines lose the secrets that request paths carry, whichever logger writes them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

TOKEN = "inv-0123456789abcdefghijklmnop"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the server's console handler (LOGGING) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    previous = handler.setStream(written)
    yield written
    handler.setStream(previous)


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        ("django.request", "Bad Request: %s", (f"/api/projects/local/invitations/{TOKEN}/accept",)),
        ("django.server", '"%s" %s %s', (f"POST /x/invitations/{TOKEN}/accept HTTP/1.1", 400, 9)),
        ("django.security.csrf", "Forbidden: %s", (f"/auth/codex/callback?code={TOKEN}",)),
    ],
)
def test_secrets_in_logged_paths_are_redacted(console, logger, message, args):
    logging.getLogger(logger).warning(message, *args)

    logged = console.getvalue()
    assert "[redacted]" in logged
    assert TOKEN not in logged
