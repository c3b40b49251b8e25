"""Workspaces and sessions through the HTTP API (contract §2), with their jobs run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.core.models import Job, JobStatus
from apps.projects.models import ProjectEvent
from apps.workspaces.models import Session, Workspace
from tests.agents.factories import AgentFactory
from tests.jobs import run_jobs
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

WORKSPACE_KEYS = {
    "id",
    "progress",
    "path",
    "displayName",
    "sourceType",
    "provider",
    "status",
    "errorMessage",
    "commit",
    "workDir",
    "sessions",
    "createdAt",
    "updatedAt",
}
SESSION_KEYS = {
    "id",
    "progress",
    "projectId",
    "name",
    "displayName",
    "description",
    "timestamp",
    "status",
    "commitStatus",
    "commitError",
    "baseCommit",
    "appliedCommit",
    "errorMessage",
    "files",
    "workspaceId",
    "agentId",
    "model",
    "workspacePath",
    "workspaceCommit",
}


def head_of(repo) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def client(client_for, member) -> APIClient:
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}"


def events_of(project, type: str) -> list[dict]:
    return [e.data for e in ProjectEvent.objects.filter(project=project, type=type).order_by("seq")]


class TestWorkspaceCreate:
    def test_local_folder_becomes_ready_in_the_background(self, client, base, project, git_repo):
        response = client.post(f"{base}/workspaces", {"path": str(git_repo)}, format="json")

        assert response.status_code == 201
        body = response.json()
        assert set(body) == WORKSPACE_KEYS
        assert (body["status"], body["sourceType"], body["sessions"]) == (
            "initializing",
            "local",
            [],
        )
        assert Job.objects.get(resource_id=body["id"]).type == "workspace_init"

        run_jobs()

        ready = client.get(f"{base}/workspaces/{body['id']}").json()
        assert ready["status"] == "ready"
        assert ready["commit"] == head_of(git_repo)
        assert ready["workDir"] == str(git_repo)
        statuses = [e["status"] for e in events_of(project, "workspace_updated")]
        assert statuses == ["initializing", "ready"]
        [done] = events_of(project, "job_completed")
        assert done["jobType"] == "workspace_init"
        assert done["status"] == "completed"
        assert done["resourceId"] == body["id"]

    def test_a_plain_folder_is_ready_without_a_commit(self, client, base, tmp_path):
        folder = tmp_path / "plain"
        folder.mkdir()
        created = client.post(f"{base}/workspaces", {"path": str(folder)}, format="json").json()

        run_jobs()

        ready = client.get(f"{base}/workspaces/{created['id']}").json()
        assert (ready["status"], ready["commit"]) == ("ready", None)

    def test_git_url_is_cloned_under_the_workspace_dir(self, client, base, git_repo, settings):
        created = client.post(
            f"{base}/workspaces",
            {"path": f"file://{git_repo}", "sourceType": "git", "displayName": "Mine"},
            format="json",
        ).json()

        run_jobs()

        ready = client.get(f"{base}/workspaces/{created['id']}").json()
        assert ready["status"] == "ready"
        assert ready["displayName"] == "Mine"
        assert ready["workDir"] == str(settings.WORKSPACE_DIR / created["id"])
        assert ready["commit"] == head_of(git_repo)
        assert (settings.WORKSPACE_DIR / created["id"] / "README.md").read_text() == "hello\n"

    def test_unreachable_git_url_ends_in_error_after_retries(self, client, base, project):
        created = client.post(
            f"{base}/workspaces",
            {"path": "git://127.0.0.1:1/nothing.git", "sourceType": "git"},
            format="json",
        ).json()

        assert run_jobs() == 3

        failed = client.get(f"{base}/workspaces/{created['id']}").json()
        assert failed["status"] == "error"
        assert failed["errorMessage"].startswith("Could not clone")
        job = Job.objects.get(resource_id=created["id"])
        assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
        [done] = events_of(project, "job_completed")
        assert done["status"] == "failed"
        assert done["error"] == failed["errorMessage"]

    def test_home_is_expanded(self, client, base, tmp_path, monkeypatch):
        (tmp_path / "home" / "code").mkdir(parents=True)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))

        body = client.post(f"{base}/workspaces", {"path": "~/code/"}, format="json").json()

        assert body["path"] == str(tmp_path / "home" / "code")

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({}, "Path is required"),
            ({"path": ""}, "Path is required"),
            ({"path": "relative/dir"}, "Path must be absolute (or start with ~)"),
            ({"path": "{folder}/not/here"}, "Path is not a folder on the server"),
            ({"path": "not a url", "sourceType": "git"}, "Path must be a git URL"),
            ({"path": "{folder}", "sourceType": "svn"}, 'sourceType: "svn" is not a valid choice.'),
            ({"path": "{folder}", "provider": "vz"}, "Unknown provider 'vz'"),
            ({"path": 42}, "path: Must be a string."),
        ],
    )
    def test_bad_workspaces_are_refused(self, client, base, body, error, tmp_path):
        (tmp_path / "folder").mkdir()
        if isinstance(body.get("path"), str):
            body = {**body, "path": body["path"].replace("{folder}", str(tmp_path / "folder"))}

        response = client.post(f"{base}/workspaces", body, format="json")

        assert response.status_code == 400
        assert response.json()["error"].startswith(error)
        assert not Workspace.objects.exists()

    def test_a_file_is_not_a_folder(self, client, base, tmp_path):
        (tmp_path / "file.txt").write_text("x")

        response = client.post(
            f"{base}/workspaces", {"path": str(tmp_path / "file.txt")}, format="json"
        )

        assert response.status_code == 400

    def test_workspace_roots_confine_local_paths(self, client, base, tmp_path, settings):
        (tmp_path / "allowed").mkdir()
        (tmp_path / "elsewhere").mkdir()
        settings.WORKSPACE_ROOTS = [tmp_path / "allowed"]

        inside = client.post(
            f"{base}/workspaces", {"path": str(tmp_path / "allowed")}, format="json"
        )
        outside = client.post(
            f"{base}/workspaces", {"path": str(tmp_path / "elsewhere")}, format="json"
        )
        sneaky = client.post(
            f"{base}/workspaces",
            {"path": str(tmp_path / "allowed" / ".." / "elsewhere")},
            format="json",
        )

        assert inside.status_code == 201
        assert outside.status_code == sneaky.status_code == 400
        assert outside.json()["error"] == "Path is outside the folders this server may use"


class TestWorkspaceReadUpdateDelete:
    def test_list_has_empty_sessions_and_fixed_queries(
        self, client, base, project, django_assert_num_queries
    ):
        for _ in range(3):
            SessionFactory.create(workspace=WorkspaceFactory.create(project=project))

        with django_assert_num_queries(5):  # session, user, membership, project, workspaces
            response = client.get(f"{base}/workspaces")

        bodies = response.json()["workspaces"]
        assert len(bodies) == 3
        assert all(set(body) == WORKSPACE_KEYS and body["sessions"] == [] for body in bodies)

    def test_get_fills_in_sessions(self, client, base, project):
        workspace = WorkspaceFactory.create(project=project)
        session = SessionFactory.create(workspace=workspace)

        body = client.get(f"{base}/workspaces/{workspace.id}").json()

        assert [s["id"] for s in body["sessions"]] == [session.id]
        assert set(body["sessions"][0]) == SESSION_KEYS

    def test_update_changes_only_present_fields_and_null_clears(self, client, base, project):
        workspace = WorkspaceFactory.create(project=project, display_name="Old", path="/tmp")

        renamed = client.put(
            f"{base}/workspaces/{workspace.id}", {"displayName": "New"}, format="json"
        ).json()
        cleared = client.put(
            f"{base}/workspaces/{workspace.id}", {"displayName": None}, format="json"
        ).json()

        assert (renamed["displayName"], renamed["path"]) == ("New", "/tmp")
        assert cleared["displayName"] is None

    def test_update_validates_like_create(self, client, base, project):
        workspace = WorkspaceFactory.create(project=project, path="/tmp")

        response = client.put(
            f"{base}/workspaces/{workspace.id}", {"path": "/not/there"}, format="json"
        )

        assert response.status_code == 400
        workspace.refresh_from_db()
        assert workspace.path == "/tmp"

    def test_delete_with_files_removes_the_clone_only(self, client, base, git_repo, settings):
        created = client.post(
            f"{base}/workspaces", {"path": f"file://{git_repo}", "sourceType": "git"}, format="json"
        ).json()
        run_jobs()
        local = client.post(f"{base}/workspaces", {"path": str(git_repo)}, format="json").json()

        for workspace_id in (created["id"], local["id"]):
            response = client.delete(f"{base}/workspaces/{workspace_id}?deleteFiles=true")
            assert response.status_code == 200
            assert response.json() == {"success": True}

        assert not Workspace.objects.exists()
        assert git_repo.is_dir()  # a user's own folder is never deleted

    def test_providers(self, client, base, settings):
        settings.DOCKER_HOST = "tcp://127.0.0.1:9"  # no engine answers there

        assert client.get(f"{base}/workspaces/providers").json() == {"providers": ["local"]}

    def test_sessions_of_a_workspace(self, client, base, project):
        workspace = WorkspaceFactory.create(project=project)
        sessions = [SessionFactory.create(workspace=workspace) for _ in range(2)]
        SessionFactory.create(workspace=WorkspaceFactory.create(project=project))

        body = client.get(f"{base}/workspaces/{workspace.id}/sessions").json()

        assert [s["id"] for s in body["sessions"]] == [s.id for s in sessions]

    def test_unknown_workspace_is_404(self, client, base):
        response = client.get(f"{base}/workspaces/6f1c7a52-0000-4000-8000-000000000000")

        assert response.status_code == 404
        assert response.json() == {"error": "Workspace not found"}


class TestSessions:
    @pytest.fixture
    def workspace(self, client, base, git_repo) -> dict:
        return client.post(f"{base}/workspaces", {"path": str(git_repo)}, format="json").json()

    def create(self, client, base, workspace, **extra):
        body = {"id": "sess-1", "workspaceId": workspace["id"], **extra}
        return client.post(f"{base}/sessions", body, format="json")

    def test_created_session_becomes_ready_once_its_workspace_is(
        self, client, base, workspace, git_repo, project, settings
    ):
        response = self.create(client, base, workspace, name="Fix the flaky test in CI please now")

        assert response.status_code == 201
        body = response.json()
        assert set(body) == SESSION_KEYS
        assert (body["id"], body["status"], body["files"]) == ("sess-1", "initializing", [])
        assert body["name"] == "Fix the flaky test in CI please now"
        assert body["projectId"] == project.id

        run_jobs()

        ready = client.get(f"{base}/sessions/sess-1").json()
        assert ready["status"] == "ready"
        assert Path(ready["workspacePath"]).parent == settings.SESSIONS_DIR
        assert ready["workspaceCommit"] == head_of(git_repo)
        # Each status once, whatever steps were reported within it.
        statuses = [e["status"] for e in events_of(project, "session_updated")]
        assert list(dict.fromkeys(statuses)) == ["initializing", "creating_sandbox", "ready"]

    def test_a_session_keeps_the_model_it_was_started_with(self, client, base, workspace):
        chosen = self.create(client, base, workspace, model="openai/gpt-4.1").json()
        unchosen = self.create(client, base, workspace, id="sess-2").json()

        assert chosen["model"] == "openai/gpt-4.1"
        assert client.get(f"{base}/sessions/sess-1").json()["model"] == "openai/gpt-4.1"
        assert unchosen["model"] == ""

    def test_a_model_id_with_spaces_is_400(self, client, base, workspace):
        response = self.create(client, base, workspace, model="gpt 4")

        assert response.status_code == 400
        assert response.json()["error"].startswith("model: A model id is")
        assert not Session.objects.exists()

    def test_long_names_are_cut_to_fifty_characters(self, client, base, workspace):
        body = self.create(client, base, workspace, name="x" * 80).json()

        assert body["name"] == "x" * 50 + "..."

    def test_session_waits_for_a_workspace_that_is_still_cloning(self, client, base, workspace):
        self.create(client, base, workspace)
        # As if the clone were still running in another worker:
        Job.objects.filter(type="workspace_init").delete()
        Workspace.objects.filter(id=workspace["id"]).update(status="cloning")

        run_jobs()

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "initializing"
        job = Job.objects.get(resource_id="sess-1")
        assert (job.status, job.attempts) == (JobStatus.PENDING, 0)

    def test_a_taken_id_is_409(self, client, base, workspace, project):
        SessionFactory.create(id="taken", workspace=WorkspaceFactory.create(project=project))

        response = client.post(
            f"{base}/sessions", {"id": "taken", "workspaceId": workspace["id"]}, format="json"
        )

        assert response.status_code == 409
        assert response.json() == {"error": "A session with this id already exists"}
        assert Session.objects.filter(id="taken").count() == 1

    @pytest.mark.parametrize("session_id", ["", "a b", "a_b", "x" * 66, "ü"])
    def test_malformed_ids_are_400(self, client, base, workspace, session_id):
        response = client.post(
            f"{base}/sessions", {"id": session_id, "workspaceId": workspace["id"]}, format="json"
        )

        assert response.status_code == 400

    def test_workspace_and_agent_must_be_the_projects(self, client, base, other_project, workspace):
        foreign_workspace = WorkspaceFactory.create(project=other_project)
        foreign_agent = AgentFactory.create(project=other_project)

        by_workspace = client.post(
            f"{base}/sessions",
            {"id": "s1", "workspaceId": str(foreign_workspace.id)},
            format="json",
        )
        by_agent = self.create(client, base, workspace, agentId=str(foreign_agent.id))

        assert by_workspace.status_code == 404
        assert by_workspace.json() == {"error": "Workspace not found"}
        assert by_agent.status_code == 404
        assert not Session.objects.exists()

    def test_update_name_and_display_name(self, client, base, workspace):
        self.create(client, base, workspace)

        renamed = client.put(
            f"{base}/sessions/sess-1", {"name": "N", "displayName": "D"}, format="json"
        ).json()
        cleared = client.patch(f"{base}/sessions/sess-1", {"displayName": ""}, format="json").json()

        assert (renamed["name"], renamed["displayName"]) == ("N", "D")
        assert cleared["displayName"] is None

    def test_allowed_and_refused_status_changes(self, client, base, workspace):
        self.create(client, base, workspace)
        run_jobs()

        stopped = client.patch(f"{base}/sessions/sess-1", {"status": "stopped"}, format="json")
        refused = client.patch(f"{base}/sessions/sess-1", {"status": "removed"}, format="json")

        assert stopped.status_code == 200
        assert stopped.json()["status"] == "stopped"
        assert refused.status_code == 409
        assert refused.json() == {"error": "Cannot change status from stopped to removed"}

    def test_delete_marks_removing_then_the_job_removes_it(self, client, base, workspace, project):
        self.create(client, base, workspace)

        response = client.delete(f"{base}/sessions/sess-1")

        assert response.json() == {"success": True}
        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "removing"
        run_jobs()
        assert client.get(f"{base}/sessions/sess-1").status_code == 404
        assert events_of(project, "session_updated")[-1] == {
            "sessionId": "sess-1",
            "status": "removed",
        }

    def test_commit_is_queued_once(self, client, base, workspace, git_repo):
        self.create(client, base, workspace)
        run_jobs()

        first = client.post(f"{base}/sessions/sess-1/commit")
        second = client.post(f"{base}/sessions/sess-1/commit")

        assert first.status_code == 200
        assert first.json() == {"success": True}
        session = client.get(f"{base}/sessions/sess-1").json()
        assert (session["commitStatus"], session["baseCommit"]) == ("pending", head_of(git_repo))
        assert second.status_code == 409
        assert Job.objects.filter(type="session_commit").count() == 1

    def test_unknown_session_is_404(self, client, base):
        response = client.get(f"{base}/sessions/nope")

        assert response.status_code == 404
        assert response.json() == {"error": "Session not found"}


class TestIsolation:
    @pytest.fixture
    def foreign(self, other_project):
        workspace = WorkspaceFactory.create(project=other_project)
        return workspace, SessionFactory.create(workspace=workspace)

    def test_another_projects_workspaces_and_sessions_are_404(self, client, base, foreign):
        workspace, session = foreign
        paths = [
            ("get", f"{base}/workspaces/{workspace.id}"),
            ("put", f"{base}/workspaces/{workspace.id}"),
            ("delete", f"{base}/workspaces/{workspace.id}"),
            ("get", f"{base}/workspaces/{workspace.id}/sessions"),
            ("get", f"{base}/sessions/{session.id}"),
            ("put", f"{base}/sessions/{session.id}"),
            ("patch", f"{base}/sessions/{session.id}"),
            ("delete", f"{base}/sessions/{session.id}"),
            ("post", f"{base}/sessions/{session.id}/commit"),
        ]
        for method, path in paths:
            response = getattr(client, method)(path, {"displayName": "x"}, format="json")
            assert response.status_code == 404, (method, path)
        assert Workspace.objects.filter(id=workspace.id, display_name="").exists()
        assert Session.objects.filter(id=session.id, status="initializing").exists()
        assert client.get(f"{base}/workspaces").json() == {"workspaces": []}

    def test_outsider_gets_404_on_every_workspace_path(self, client_for, outsider, base, project):
        workspace = WorkspaceFactory.create(project=project)
        client = client_for(outsider)

        for path in (
            f"{base}/workspaces",
            f"{base}/workspaces/{workspace.id}",
            f"{base}/sessions/x",
        ):
            assert client.get(path).status_code == 404


def test_symlinked_folder_inside_roots_is_resolved(client, base, tmp_path, settings):
    (tmp_path / "outside").mkdir()
    (tmp_path / "root").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "root" / "link")
    settings.WORKSPACE_ROOTS = [tmp_path / "root"]

    response = client.post(
        f"{base}/workspaces", {"path": str(tmp_path / "root" / "link")}, format="json"
    )

    assert response.status_code == 400
