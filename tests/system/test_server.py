"""`make run`'s server for real: `python -m discobot.server` on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message

import pytest

from tests.servers import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running.base_url


def fetch(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, Message, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read().decode()
            return response.status, response.headers, raw
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_health_answers_ok(server):
    status, _headers, body = fetch(f"{server}/health")

    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_anonymous_mode_lists_the_local_project(server):
    status, headers, body = fetch(f"{server}/api/projects")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert [project["id"] for project in json.loads(body)] == ["local"]


def test_a_project_created_over_http_is_listed(server):
    status, _, body = fetch(f"{server}/api/projects", "POST", {"name": "Over HTTP"})

    assert status == 201
    created = json.loads(body)
    listed = json.loads(fetch(f"{server}/api/projects")[2])
    assert created["id"] in [project["id"] for project in listed]


def test_unknown_api_path_is_a_json_404(server):
    status, _headers, body = fetch(f"{server}/api/does/not/exist")

    assert status == 404
    assert json.loads(body) == {"error": "Not found"}


def test_api_docs_render_with_their_assets_served_offline(server):
    status, _, html = fetch(f"{server}/api/docs")

    assert status == 200
    assert "swagger-ui-bundle.js" in html
    asset = html.split('src="', 1)[1].split('"', 1)[0]
    assert asset.startswith("/static/drf_spectacular_sidecar/")
    asset_status, asset_headers, script = fetch(f"{server}{asset}")
    assert asset_status == 200
    assert "javascript" in asset_headers["Content-Type"]
    assert "SwaggerUIBundle" in script
