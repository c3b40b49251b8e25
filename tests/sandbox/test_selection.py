"""Which provider runs a workspace's sessions, as the API and /api/status show it (issue 12,
item 2). The "no engine" paths point DOCKER_HOST at a closed port."""

from __future__ import annotations

import pytest

from apps.sandbox.selectors import provider_choose, provider_for
from tests.servers import clean_environment, manage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_engine")]


@pytest.fixture
def folder(tmp_path, settings) -> str:
    settings.WORKSPACE_ROOTS = [tmp_path]
    (tmp_path / "code").mkdir()
    return str(tmp_path / "code")


def sandbox_messages(client) -> tuple[bool, dict[str, str]]:
    body = client.get("/api/status").json()
    return body["ok"], {m["id"]: m["level"] for m in body["messages"] if "sandbox" in m["id"]}


class TestAnonymousMode:
    base = "/api/projects/local"

    def test_a_docker_workspace_runs_on_the_local_provider_and_status_says_so(
        self, anonymous_client, folder
    ):
        response = anonymous_client.post(
            f"{self.base}/workspaces", {"path": folder, "provider": "docker"}, format="json"
        )

        assert response.status_code == 201
        assert response.json()["provider"] == "docker"
        assert provider_choose("docker").falls_back
        assert provider_for("docker").name == "local"
        assert sandbox_messages(anonymous_client) == (True, {"sandbox-local-fallback": "warn"})

    @pytest.mark.parametrize("provider", ["", "local", "docker"])
    def test_every_provider_name_of_the_web_app_is_accepted(
        self, anonymous_client, folder, provider
    ):
        response = anonymous_client.post(
            f"{self.base}/workspaces", {"path": folder, "provider": provider}, format="json"
        )

        assert response.status_code == 201

    def test_providers_lists_what_runs_here(self, anonymous_client):
        response = anonymous_client.get(f"{self.base}/workspaces/providers")

        assert response.json() == {"providers": ["local"]}


class TestAuthMode:
    @pytest.fixture
    def client(self, client_for, member, settings):
        client = client_for(member)
        settings.LOCAL_PROVIDER_ENABLED = False
        return client

    @pytest.fixture
    def base(self, project) -> str:
        return f"/api/projects/{project.id}"

    def test_a_docker_workspace_is_refused_naming_the_fix(self, client, base, folder):
        response = client.post(
            f"{base}/workspaces", {"path": folder, "provider": "docker"}, format="json"
        )

        assert response.status_code == 409
        error = response.json()["error"]
        assert "start Docker" in error
        assert "LOCAL_PROVIDER_ENABLED=true" in error

    @pytest.mark.parametrize("provider", ["", "local"])
    def test_the_local_provider_is_refused(self, client, base, folder, provider):
        response = client.post(
            f"{base}/workspaces", {"path": folder, "provider": provider}, format="json"
        )

        assert response.status_code == 409
        assert "LOCAL_PROVIDER_ENABLED=true" in response.json()["error"]

    def test_nothing_runs_and_status_is_an_error(self, client, base):
        assert client.get(f"{base}/workspaces/providers").json() == {"providers": []}
        assert sandbox_messages(client) == (False, {"sandbox-unavailable": "error"})

    def test_the_operator_allows_the_local_provider(self, client, base, folder, settings):
        settings.LOCAL_PROVIDER_ENABLED = True

        response = client.post(
            f"{base}/workspaces", {"path": folder, "provider": "docker"}, format="json"
        )

        assert response.status_code == 201
        assert client.get(f"{base}/workspaces/providers").json() == {"providers": ["local"]}
        assert sandbox_messages(client) == (True, {"sandbox-local-fallback": "warn"})

    def test_an_unknown_provider_is_a_400(self, client, base, folder):
        response = client.post(
            f"{base}/workspaces", {"path": folder, "provider": "vz"}, format="json"
        )

        assert response.status_code == 400
        assert response.json() == {
            "error": "Unknown provider 'vz'; this server offers: docker, local"
        }


def test_an_unknown_sandbox_provider_setting_fails_with_one_line(tmp_path):
    environment = clean_environment(DATA_DIR=str(tmp_path), SANDBOX_PROVIDER="vz")

    result = manage("check", env=environment)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "discobot: configuration error: SANDBOX_PROVIDER must be auto, docker or local"
    ]
