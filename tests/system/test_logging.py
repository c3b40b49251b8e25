"""Log lines lose the secrets that request paths carry, whichever logger writes them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from discobot.logs import JsonFormatter
from tests.jobs import run_jobs
from tests.system.test_configuration import shell

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


@pytest.fixture
def json_console(console) -> Iterator[io.StringIO]:
    """The console handler writing LOG_FORMAT=json lines."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    previous = handler.formatter
    handler.setFormatter(JsonFormatter())
    yield console
    handler.setFormatter(previous)


def json_lines(console: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in console.getvalue().splitlines()]


@pytest.mark.django_db
def test_a_request_s_log_lines_carry_its_id_which_the_response_returns(json_console):
    response = Client().get("/health", headers={"Host": "localhost", "X-Request-ID": "req-42"})
    refused = Client().get("/api/nope", headers={"Host": "localhost"})  # logged: a 404

    assert response["X-Request-ID"] == "req-42"
    generated = refused["X-Request-ID"]
    assert generated
    lines = json_lines(json_console)
    not_found = next(line for line in lines if line["logger"] == "django.request")
    assert not_found["request_id"] == generated
    assert {"time", "level", "logger", "message", "request_id"} <= set(not_found)


@pytest.mark.parametrize("header", ["has spaces", "x" * 200, "new\nline"])
@pytest.mark.django_db
def test_an_unusable_request_id_is_replaced(header):
    response = Client().get("/health", headers={"Host": "localhost", "X-Request-ID": header})

    assert response["X-Request-ID"] not in ("", header)


@pytest.mark.django_db
def test_a_job_enqueued_by_a_request_logs_with_its_id(json_console, git_repo):
    response = Client().post(
        "/api/projects/local/workspaces",
        {"path": str(git_repo)},
        content_type="application/json",
        headers={"Host": "localhost", "X-Request-ID": "create-workspace-7"},
    )
    assert response.status_code == 201, response.content

    run_jobs()

    job_lines = [line for line in json_lines(json_console) if line["logger"] == "apps.core.jobs"]
    assert job_lines
    assert {line["request_id"] for line in job_lines} == {"create-workspace-7"}


def test_text_lines_are_the_default_and_json_lines_are_chosen_by_log_format(tmp_path):
    code = "import logging; logging.getLogger('probe').warning('hello %s', 'there')"
    text = shell(code, DATA_DIR=str(tmp_path))
    json_output = shell(code, DATA_DIR=str(tmp_path), LOG_FORMAT="json")

    assert "WARNING probe: hello there" in text.stderr
    line = json.loads(json_output.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "probe", "hello there")
    assert line["request_id"] is None
