"""The terminal's legacy project-level calls (contract §5): `POST /terminal/execute` runs one
command in a session's sandbox, `GET /terminal/history` reads that session's history."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.terminal import services
from apps.workspaces.models import SandboxUse, SessionStatus
from apps.workspaces.sandboxes import session_sandbox_provider
from tests.workspaces.factories import SessionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-proj-legacy-0123456789abcdefwxyz"


@pytest.fixture
def session(project, tmp_path):
    workspace = WorkspaceFactory.create(project=project, provider="local")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "marker.txt").write_text("the working copy\n")
    session = SessionFactory.create(
        id="legacy-1", workspace=workspace, status=SessionStatus.READY, workspace_path=str(copy)
    )
    yield session
    session.refresh_from_db()
    if session.sandbox_provider:
        session_sandbox_provider(session).remove(str(session.uuid))


@pytest.fixture
def client(client_for, member):
    return client_for(member)


def execute(client, project, command: str, session_id: str = "legacy-1"):
    return client.post(
        f"/api/projects/{project.id}/terminal/execute",
        {"command": command, "sessionId": session_id},
        format="json",
    )


def ran(client, project, command: str) -> dict:
    response = execute(client, project, command)
    assert response.status_code == 200, response.content
    return response.json()


def history(client, project, **params) -> list[dict]:
    response = client.get(f"/api/projects/{project.id}/terminal/history", params)
    assert response.status_code == 200, response.content
    return response.json()["history"]


def test_a_command_runs_in_the_sessions_working_copy_started_on_demand(client, project, session):
    body = ran(client, project, "cat marker.txt; echo oops >&2; exit 3")

    assert body == {"output": "the working copy\noops\n", "exitCode": 3}
    session.refresh_from_db()
    assert session.sandbox_provider == "local"
    status = client.get(f"/api/projects/{project.id}/sessions/legacy-1/terminal/status").json()
    assert status["status"] == "running"
    assert not SandboxUse.objects.filter(session=session).exists()  # let go once it ended


def test_the_projects_secrets_are_masked_out_of_the_output(
    client_for, owner, client, project, session
):
    stored = client_for(owner).post(
        f"/api/projects/{project.id}/credentials",
        {"provider": "openai", "apiKey": SECRET},
        format="json",
    )
    assert stored.status_code == 200, stored.content

    body = ran(client, project, f"echo key={SECRET}")

    assert SECRET not in body["output"]
    assert body["output"].startswith("key=")
    assert SECRET not in str(history(client, project, sessionId="legacy-1"))
    actions = client.get(f"/api/projects/{project.id}/sessions/legacy-1/actions").json()
    assert SECRET not in str(actions)


def test_a_command_past_its_time_is_stopped_with_124(client, project, session, monkeypatch):
    monkeypatch.setattr(services, "EXECUTE_TIMEOUT_SECONDS", 1)

    body = ran(client, project, "echo started; sleep 30")

    assert body["exitCode"] == 124
    assert body["output"].startswith("started\n")
    assert "timed out after 1 s" in body["output"]


def test_the_output_is_bounded(client, project, session):
    body = ran(client, project, "head -c 200000 /dev/zero | tr '\\0' a")

    kept = body["output"].split("\n")[0]
    assert kept == "a" * services.EXECUTE_OUTPUT_MAX_BYTES
    assert f"output past {services.EXECUTE_OUTPUT_MAX_BYTES} bytes was cut" in body["output"]


def test_the_command_is_in_the_sessions_actions(client, member, project, session):
    ran(client, project, "exit 7")

    actions = client.get(f"/api/projects/{project.id}/sessions/legacy-1/actions").json()
    action = actions["actions"][0]
    assert (action["kind"], action["tool"], action["exitCode"]) == (
        "terminal_command",
        "execute",
        7,
    )
    assert "exit 7" in action["input"]
    assert action["user"]["email"] == member.email


def test_the_history_holds_each_command_and_its_output_oldest_first(client, project, session):
    ran(client, project, "printf 'one\\ntwo\\n'")
    ran(client, project, "true")

    assert history(client, project, sessionId="legacy-1") == [
        {"type": "input", "content": "printf 'one\\ntwo\\n'"},
        {"type": "output", "content": "one"},
        {"type": "output", "content": "two"},
        {"type": "input", "content": "true"},
    ]
    assert history(client, project, sessionId="legacy-1", limit="1") == [
        {"type": "input", "content": "true"}
    ]
    rows = client.get(f"/api/projects/{project.id}/sessions/legacy-1/terminal/history").json()
    assert [(row["entry_type"], row["exit_code"]) for row in rows["history"]][-1] == ("input", 0)


def test_history_is_the_named_sessions_own(client, project, session):
    other = SessionFactory.create(id="legacy-2", workspace=session.workspace)
    ran(client, project, "echo ours")

    assert history(client, project, sessionId=other.id) == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"command": "ls"}, "Session id is required"),
        ({"sessionId": "legacy-1"}, "Command is required"),
        ({"command": "   ", "sessionId": "legacy-1"}, "besides whitespace"),
        ({"command": "ls", "sessionId": "no/such"}, "Invalid session id"),
        ({"command": "ls", "sessionId": "legacy-1", "cwd": "/"}, "Unknown field"),
    ],
)
def test_a_bad_execute_body_is_a_400(client, project, session, body, words):
    response = client.post(f"/api/projects/{project.id}/terminal/execute", body, format="json")

    assert response.status_code == 400
    assert words in response.json()["error"]


@pytest.mark.parametrize("params", [{}, {"sessionId": "legacy-1", "limit": "0"}])
def test_a_bad_history_query_is_a_400(client, project, session, params):
    response = client.get(f"/api/projects/{project.id}/terminal/history", params)

    assert response.status_code == 400
    assert "error" in response.json()


def test_an_unknown_session_is_a_404(client, project):
    assert execute(client, project, "ls", session_id="nope").json() == {
        "error": "Session not found"
    }
    response = client.get(f"/api/projects/{project.id}/terminal/history", {"sessionId": "nope"})
    assert response.status_code == 404


def test_a_session_still_being_set_up_is_a_409(client, project, session):
    session.status = SessionStatus.CREATING_SANDBOX
    session.save(update_fields=["status"])

    response = execute(client, project, "ls")

    assert response.status_code == 409
    assert "set up" in response.json()["error"]


def test_an_outsider_gets_404_and_runs_nothing(client_for, outsider, project, session):
    outside = client_for(outsider)

    response = execute(outside, project, "touch pwned")

    assert response.status_code == 404
    assert not (Path(session.workspace_path) / "pwned").exists()
    assert (
        outside.get(
            f"/api/projects/{project.id}/terminal/history", {"sessionId": "legacy-1"}
        ).status_code
        == 404
    )


def test_a_session_of_another_project_is_not_found(client_for, outsider, other_project, session):
    response = client_for(outsider).post(
        f"/api/projects/{other_project.id}/terminal/execute",
        {"command": "touch pwned", "sessionId": "legacy-1"},
        format="json",
    )

    assert response.status_code == 404
    assert response.json() == {"error": "Session not found"}
    assert not (Path(session.workspace_path) / "pwned").exists()
