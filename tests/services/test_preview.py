"""Live preview in anonymous mode: `{session}-svc-{service}.{host}` is the service's port in
the session's sandbox, HTTP, streaming and WebSocket alike (local provider)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.services.previews import PreviewSite, preview_site, session_seed
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[PreviewSite]:
    # Mixed case: browsers send the host lowercased.
    with preview_site(tmp_path_factory.mktemp("p"), session_id="Prev-1") as site:
        session_seed(site, "local")
        for service in ("web", "echo", "ws"):
            assert site.api(f"/{service}/start").status_code == 202
        yield site


def answered(site: PreviewSite, service: str, path: str = "/") -> requests.Response:
    """The service's first answer through its preview, once it listens."""

    def listening() -> list[requests.Response]:
        answer = site.get(site.host(service), path)
        return [answer] if answer.status_code < 500 else []

    return wait_for(listening)[0]


def test_a_page_of_a_running_service_is_served_on_its_preview_host(site):
    page = answered(site, "web", "/index.txt")
    assert page.status_code == 200
    assert page.text == "hello from the sandbox\n"


def test_a_streamed_answer_arrives_chunk_by_chunk(site):
    answered(site, "echo", "/ready")  # its first chunk: it listens
    (site.working_copy / "release").unlink(missing_ok=True)
    with site.get(site.host("echo"), "/stream", stream=True) as answer:
        chunks = answer.iter_content(chunk_size=None)
        # The service writes its second chunk only once the first has come through.
        assert next(chunks) == b"first\n"
        (site.working_copy / "release").touch()
        assert b"".join(chunks) == b"second\n"


def test_a_request_body_reaches_the_service_with_forwarded_headers(site):
    answered(site, "echo", "/ready")
    host = site.host("echo")

    def parts():
        yield b"one "
        yield b"two"

    url = f"{site.server.base_url}/echo"
    headers = {"Host": host, "Cookie": "theirs=1"}
    answer = requests.post(url, data=parts(), headers=headers, timeout=60)
    assert answer.status_code == 200
    seen = answer.json()
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert seen["body"] == "one two"
    assert headers["x-forwarded-host"] == host
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"].startswith("127.0.0.1:")
    assert headers["cookie"] == "theirs=1"


def test_websocket_frames_pass_both_ways(site):
    answered(site, "ws")  # a plain GET: the WebSocket server answers it with an error page
    with site.websocket("ws", "/socket") as socket:
        socket.send("hello")
        assert socket.recv(timeout=30) == "hello"
        socket.send(b"\x00\x01binary")
        assert socket.recv(timeout=30) == b"\x00\x01binary"


def test_a_stopped_service_is_said_to_be_not_running(site):
    site.service_file("later", "#!/bin/sh\n#---\n# http: 9\n#---\nsleep 600\n")
    answer = site.get(site.host("later"), "/")
    assert answer.status_code == 503
    assert answer.json() == {"error": "The service later is not running: start it first"}


def test_unknown_sessions_services_and_hosts_are_refused(site):
    for host, status in (
        (site.host("nope"), 404),
        (site.host("web", session_id="no-such-session"), 404),
        (site.host("web").replace(".localhost", ".evil.example"), 400),
    ):
        answer = site.get(host, "/index.txt")
        assert answer.status_code == status, host
        assert answer.json()["error"]
