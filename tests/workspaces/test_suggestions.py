"""`GET /api/projects/{pid}/suggestions?q=&type=path` (web-app.md): folder completions for the
new-workspace dialog, never outside the folders the server may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.workspaces.selectors import SUGGESTIONS_MAX

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path) -> Path:
    """The server's one root: two repositories and other folders, a hidden one, a file, a
    symlink to a folder inside and one to a folder outside."""
    settings.SUGGESTIONS_ENABLED = True
    root = tmp_path / "root"
    settings.WORKSPACE_ROOTS = [root]
    for name in ("alpha/.git", "alpine", "beta", ".hidden", "gamma/.git"):
        (root / name).mkdir(parents=True)
    (root / "alpha.txt").write_text("a file, not a folder\n")
    (tmp_path / "outside" / "secret-project").mkdir(parents=True)
    (root / "link-in").symlink_to(root / "beta")
    (root / "link-out").symlink_to(tmp_path / "outside")
    return root


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


def suggest(client: APIClient, project_id: str, q: str, **params: str) -> list[dict]:
    response = client.get(f"/api/projects/{project_id}/suggestions", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()["suggestions"]


def values(suggestions: list[dict]) -> list[str]:
    return [suggestion["value"] for suggestion in suggestions]


def test_folders_starting_with_the_typed_name_are_suggested_repositories_valid(
    client, project, root
):
    found = suggest(client, project.id, f"{root}/al")

    assert found == [
        {"value": f"{root}/alpha", "type": "path", "valid": True},
        {"value": f"{root}/alpine", "type": "path", "valid": False},
    ]


def test_a_trailing_slash_lists_the_folders_in_it_by_name_without_hidden_ones_or_files(
    client, project, root
):
    assert values(suggest(client, project.id, f"{root}/")) == [
        f"{root}/alpha",
        f"{root}/alpine",
        f"{root}/beta",
        f"{root}/gamma",
        f"{root}/link-in",
    ]


def test_hidden_folders_come_when_the_typed_name_starts_with_a_dot(client, project, root):
    assert values(suggest(client, project.id, f"{root}/.")) == [f"{root}/.hidden"]
    assert values(suggest(client, project.id, f"{root}/.hid")) == [f"{root}/.hidden"]


def test_the_roots_are_suggested_on_the_way_to_them(client, project, root, tmp_path):
    assert values(suggest(client, project.id, "")) == [str(root)]
    assert values(suggest(client, project.id, f"{tmp_path}/ro")) == [str(root)]


@pytest.mark.parametrize(
    "typed",
    [
        "{tmp}/outside/",
        "{tmp}/outside/sec",
        "{root}/../outside/",
        "{root}/link-out/",
        "{root}/link-out/sec",
        "{root}/alpha/../../outside/",
        "/etc/",
        "/",
        "/e",
        "~/",
        "relative/path",
    ],
)
def test_nothing_outside_the_roots_is_ever_listed(client, project, root, tmp_path, typed):
    found = values(suggest(client, project.id, typed.format(tmp=tmp_path, root=root)))

    assert all(Path(os.path.realpath(value)).is_relative_to(root) for value in found), found
    assert not any("secret-project" in value or "link-out" in value for value in found)


def test_a_symlink_pointing_out_is_left_out_and_one_pointing_in_is_kept(client, project, root):
    assert values(suggest(client, project.id, f"{root}/link")) == [f"{root}/link-in"]


def test_the_list_is_bounded(client, project, root):
    for n in range(SUGGESTIONS_MAX + 10):
        (root / "many" / f"folder-{n:03}").mkdir(parents=True)

    found = values(suggest(client, project.id, f"{root}/many/folder-"))

    assert len(found) == SUGGESTIONS_MAX
    assert found[0] == f"{root}/many/folder-000"


def test_with_suggestions_disabled_the_list_is_empty(client, project, root, settings):
    settings.SUGGESTIONS_ENABLED = False

    assert suggest(client, project.id, f"{root}/") == []


def test_repository_suggestions_are_an_empty_list(client, project, root):
    assert suggest(client, project.id, f"{root}/", type="repo") == []


@pytest.mark.parametrize(("params", "field"), [({"type": "url"}, "type"), ({"q": "/a\x00"}, "q")])
def test_bad_parameters_are_a_400(client, project, root, params, field):
    response = client.get(f"/api/projects/{project.id}/suggestions", params)

    assert response.status_code == 400
    assert field in response.json()["error"]


def test_with_auth_on_and_no_roots_nothing_is_suggested(client, project, root, settings):
    settings.WORKSPACE_ROOTS = []

    assert suggest(client, project.id, f"{root}/") == []


def test_with_auth_on_the_servers_own_folders_are_left_out(client, project, settings, tmp_path):
    settings.SUGGESTIONS_ENABLED = True
    settings.WORKSPACE_ROOTS = [tmp_path]
    for folder in (settings.DATA_DIR, settings.SESSIONS_DIR, tmp_path / "code"):
        Path(folder).mkdir(parents=True, exist_ok=True)

    assert f"{tmp_path}/code" in values(suggest(client, project.id, f"{tmp_path}/"))
    assert not {str(settings.DATA_DIR), str(settings.SESSIONS_DIR)} & set(
        values(suggest(client, project.id, f"{tmp_path}/"))
    )
    assert suggest(client, project.id, f"{settings.DATA_DIR}/") == []


def test_anonymous_mode_without_roots_completes_in_the_home_folder(
    anonymous_client, settings, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    (home / "projects" / ".git").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("HOME", str(home))
    settings.WORKSPACE_ROOTS = []
    settings.SUGGESTIONS_ENABLED = True

    found = suggest(anonymous_client, "local", "~/pro")

    assert found == [{"value": f"{home}/projects", "type": "path", "valid": True}]
    assert suggest(anonymous_client, "local", f"{tmp_path}/") == [
        {"value": str(home), "type": "path", "valid": False}
    ]


def test_an_outsider_gets_404(client_for, outsider, project, root):
    response = client_for(outsider).get(
        f"/api/projects/{project.id}/suggestions", {"q": f"{root}/"}
    )

    assert response.status_code == 404
    assert "error" in response.json()
