"""The built web app served at `/` (SPA_DIST_DIR): one origin for the app and the API."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from discobot.checks import web_app_check
from tests.servers import manage, running_server

pytestmark = pytest.mark.django_db

INDEX = "<!doctype html><title>Discobot</title><script src=/assets/app-abc123.js></script>"
SCRIPT = "console.log('discobot')"
SECRET = "not for the browser"


def build(folder: Path) -> Path:
    """A web app build as Vite leaves it, beside a file that is not part of it."""
    (folder / "dist" / "assets").mkdir(parents=True)
    (folder / "dist" / "index.html").write_text(INDEX)
    (folder / "dist" / "favicon.ico").write_bytes(b"\x00\x01icon")
    (folder / "dist" / "assets" / "app-abc123.js").write_text(SCRIPT)
    (folder / "secret.txt").write_text(SECRET)
    return folder / "dist"


@pytest.fixture
def dist(tmp_path, settings) -> Path:
    settings.SPA_DIST_DIR = build(tmp_path)
    return settings.SPA_DIST_DIR


@pytest.fixture
def client() -> Client:
    return Client()


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("path", ["/", "/projects/x/sessions/y", "/settings", "/index.html"])
def test_app_paths_get_the_index_revalidated_at_each_load(client, dist, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"
    assert body(response) == INDEX


def test_hashed_assets_are_cached_for_good(client, dist):
    response = client.get("/assets/app-abc123.js")

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"public", "immutable"} <= cache_control
    max_age = next(int(part[8:]) for part in cache_control if part.startswith("max-age="))
    assert max_age >= 365 * 24 * 3600
    assert body(response) == SCRIPT


def test_other_files_of_the_build_are_served_revalidated(client, dist):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"
    assert b"".join(response.streaming_content) == b"\x00\x01icon"


def test_a_missing_asset_is_a_404_not_the_index(client, dist):
    response = client.get("/assets/app-gone99.js")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.parametrize(
    "path", ["/api/unknown", "/api", "/auth/unknown", "/static/missing.js", "/admin/x"]
)
def test_the_servers_own_paths_keep_their_answers(client, dist, path):
    response = client.get(path)

    assert response.status_code in (302, 404)
    assert INDEX.encode() not in response.content


def test_unknown_api_path_is_still_a_json_404(client, dist):
    response = client.get("/api/unknown")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/../../../../etc/passwd",
    ],
)
def test_paths_outside_the_build_are_refused(client, dist, path):
    response = client.get(path)

    assert response.status_code in (400, 404)
    assert response.json()["error"]
    assert SECRET not in response.content.decode()


def test_a_post_to_an_app_path_is_a_json_404(client, dist):
    response = client.post("/projects/x", {"a": 1}, content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/", "/projects/x/sessions/y"])
def test_without_a_web_app_every_other_path_is_a_json_404(client, settings, method, path):
    settings.SPA_DIST_DIR = None

    response = getattr(client, method)(path)

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


def test_the_check_accepts_a_build_and_no_setting(settings, dist):
    assert web_app_check() == []
    settings.SPA_DIST_DIR = None
    assert web_app_check() == []


@pytest.mark.parametrize("broken", ["missing", "without index"])
def test_the_check_refuses_a_folder_that_is_no_build(settings, tmp_path, broken):
    folder = tmp_path / "dist"
    if broken == "without index":
        folder.mkdir()
    settings.SPA_DIST_DIR = folder

    errors = web_app_check()

    assert [error.id for error in errors] == ["discobot.E001"]
    assert str(folder) in errors[0].msg


def test_the_server_serves_the_app_and_refuses_to_start_on_a_bad_folder(tmp_path):
    dist = build(tmp_path)
    with running_server(tmp_path, SPA_DIST_DIR=str(dist)) as server:
        with urllib.request.urlopen(f"{server.base_url}/projects/x", timeout=10) as page:
            assert (page.status, page.headers["Cache-Control"]) == (200, "no-cache")
            assert page.read().decode() == INDEX
        with urllib.request.urlopen(f"{server.base_url}/assets/app-abc123.js", timeout=10) as js:
            assert "immutable" in js.headers["Cache-Control"]
            assert js.read().decode() == SCRIPT
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.base_url}/api/unknown", timeout=10)
        assert refused.value.code == 404

        checked = manage("check", env={**server.env, "SPA_DIST_DIR": str(tmp_path / "nothing")})

    assert checked.returncode != 0
    assert "SPA_DIST_DIR" in checked.stderr
