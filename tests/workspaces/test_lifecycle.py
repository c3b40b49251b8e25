"""A session's sandbox from session_init to deletion (issue 12, item 3): made and started by
session_init, stopped when idle (not while something holds it), reconciled with what the
engine really holds, started again on demand, removed with its session.

Every test runs on both providers; the docker run is skipped (saying so) when no engine
answers. What changes "outside Discobot" is done with the docker command line."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.sandbox.provider import SandboxProvider, SandboxSpec, SandboxState
from apps.sandbox.selectors import provider_answers, provider_get
from apps.workspaces.models import SandboxUse, SandboxUseKind, Session, SessionStatus
from apps.workspaces.sandboxes import (
    sandbox_use_begin,
    sandbox_use_end,
    sandboxes_reconcile,
    sandboxes_stop_idle,
    session_sandbox_start,
)
from apps.workspaces.selectors import session_sandbox_status
from apps.workspaces.signals import sandbox_stopping
from discobot.errors import ConflictError
from tests.jobs import run_jobs
from tests.sandbox.conftest import CLOSED_DOCKER_HOST
from tests.workspaces.test_api import events_of

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "docker"])
def provider(request, settings) -> Iterator[SandboxProvider]:
    """The provider sessions run on; the test's docker containers are removed after it."""
    if request.param == "docker" and not provider_answers("docker"):
        pytest.skip("the docker provider is not available here (no engine answers)")
    settings.SANDBOX_PROVIDER = request.param
    found = provider_get(request.param)
    assert found is not None
    yield found
    for info in found.list():  # this test's own: DATA_DIR names the instance
        found.remove(info.session_uuid)


# What happens "outside Discobot" is done with the docker command line: docker only.
docker_only = pytest.mark.parametrize("provider", ["docker"], indirect=True)


@pytest.fixture
def docker(provider) -> SandboxProvider:
    return provider


@pytest.fixture
def client(client_for, member):
    return client_for(member)


@pytest.fixture
def base(project) -> str:
    return f"/api/projects/{project.id}"


@pytest.fixture
def workspace(client, base, git_repo) -> dict:
    body = client.post(f"{base}/workspaces", {"path": str(git_repo)}, format="json").json()
    run_jobs()
    return body


@pytest.fixture
def session(client, base, workspace, provider) -> Session:
    response = client.post(
        f"{base}/sessions", {"id": "sess-1", "workspaceId": workspace["id"]}, format="json"
    )
    assert response.status_code == 201
    run_jobs()
    return Session.objects.get(id="sess-1")


@pytest.fixture
def stopping(db) -> Iterator[list[str]]:
    """Sessions whose sandbox_stopping was sent, in order."""
    sent: list[str] = []

    def note(sender, session, **kwargs):
        sent.append(session.id)

    sandbox_stopping.connect(note, weak=False)
    yield sent
    sandbox_stopping.disconnect(note)


def sandbox_state(provider: SandboxProvider, session: Session) -> SandboxState:
    return provider.status(str(session.uuid)).state


def idle_since(session: Session, seconds: float) -> None:
    Session.objects.filter(pk=session.pk).update(
        sandbox_active_at=timezone.now() - timedelta(seconds=seconds)
    )


def orphan_sandbox(provider, tmp_path) -> SandboxSpec:
    """A sandbox of a session Discobot does not know (left by a crash, or made by hand)."""
    orphan = SandboxSpec(
        session_uuid=str(uuid.uuid4()),
        session_id="gone",
        project_id="local",
        working_copy=Path(tmp_path),
    )
    provider.create(orphan)
    return orphan


class TestSessionInit:
    def test_the_session_goes_through_creating_sandbox_to_ready(
        self, client, base, project, session, provider
    ):
        shown = client.get(f"{base}/sessions/sess-1").json()
        assert (shown["status"], shown["progress"]) == ("ready", None)
        steps = [
            (event["status"], event.get("progress", {}).get("step"))
            for event in events_of(project, "session_updated")
        ]
        assert steps == [
            ("initializing", None),
            ("initializing", "working_copy"),
            ("creating_sandbox", None),
            ("creating_sandbox", "sandbox"),
            ("ready", None),
        ]
        [sandbox_step] = [
            event["progress"]
            for event in events_of(project, "session_updated")
            if event.get("progress", {}).get("step") == "sandbox"
        ]
        assert sandbox_step == {
            "step": "sandbox",
            "description": "Creating its sandbox",
            "stepNumber": 2,
            "stepCount": 2,
        }
        assert session.sandbox_provider == provider.name
        assert sandbox_state(provider, session) == SandboxState.RUNNING
        ran = provider.exec(str(session.uuid), ["cat", "README.md"])
        assert ran.stdout == b"hello\n"

    def test_the_status_tells_image_and_times(self, session, provider):
        info = session_sandbox_status(session)

        assert info is not None
        assert info.state == SandboxState.RUNNING
        assert info.image == ("local" if provider.name == "local" else "discobot-sandbox:latest")
        assert info.created_at is not None
        assert info.started_at is not None
        assert info.started_at >= info.created_at
        assert info.stopped_at is None

    def test_an_engine_that_does_not_answer_is_tried_again_then_the_session_says_why(
        self, client, base, workspace, settings
    ):
        settings.LOCAL_PROVIDER_ENABLED = False
        settings.SANDBOX_PROVIDER = "docker"
        settings.DOCKER_HOST = CLOSED_DOCKER_HOST
        settings.JOB_MAX_ATTEMPTS = 2
        client.post(
            f"{base}/sessions", {"id": "sess-1", "workspaceId": workspace["id"]}, format="json"
        )

        assert run_jobs() == 2  # the first attempt failed and was tried again

        body = client.get(f"{base}/sessions/sess-1").json()
        assert body["status"] == "error"
        assert "No Docker engine answers" in body["errorMessage"]

    @docker_only
    def test_a_missing_image_fails_at_once_saying_how_to_build_it(
        self, client, base, workspace, docker, settings
    ):
        settings.LOCAL_PROVIDER_ENABLED = False
        settings.SANDBOX_IMAGE = "discobot-sandbox:no-such-tag"
        client.post(
            f"{base}/sessions", {"id": "sess-1", "workspaceId": workspace["id"]}, format="json"
        )

        assert run_jobs() == 1  # not tried again: building the image is the operator's step

        body = client.get(f"{base}/sessions/sess-1").json()
        assert body["status"] == "error"
        assert "bash sandbox/build-image.sh" in body["errorMessage"]


class TestIdleStop:
    @pytest.fixture(autouse=True)
    def short_timeout(self, settings):
        settings.SANDBOX_IDLE_TIMEOUT = 60

    def test_an_idle_sandbox_stops_and_the_session_says_why(
        self, client, base, project, session, provider, stopping
    ):
        idle_since(session, 61)

        assert sandboxes_stop_idle() == 1

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "stopped"
        assert events_of(project, "session_updated")[-1]["status"] == "stopped"
        session.refresh_from_db()
        assert session.sandbox_stopped_reason == "idle for 1 minute"
        assert sandbox_state(provider, session) == SandboxState.STOPPED
        assert stopping == ["sess-1"]
        info = session_sandbox_status(session)
        assert info is not None
        assert info.stopped_at is not None

    def test_a_sandbox_used_recently_keeps_running(self, session, provider):
        idle_since(session, 30)

        assert sandboxes_stop_idle() == 0
        assert sandbox_state(provider, session) == SandboxState.RUNNING

    def test_a_held_sandbox_keeps_running_however_long_it_is_idle(self, session, provider):
        use = sandbox_use_begin(session=session, kind=SandboxUseKind.TERMINAL)
        idle_since(session, 3600)

        assert sandboxes_stop_idle() == 0
        assert Session.objects.get(pk=session.pk).status == SessionStatus.READY
        assert sandbox_state(provider, session) == SandboxState.RUNNING

        sandbox_use_end(use)
        idle_since(session, 61)
        assert sandboxes_stop_idle() == 1

    def test_a_use_whose_holder_died_no_longer_counts(self, session, provider):
        use = sandbox_use_begin(session=session, kind=SandboxUseKind.AGENT_TURN)
        SandboxUse.objects.filter(pk=use.pk).update(expires_at=timezone.now())
        idle_since(session, 61)

        assert sandboxes_stop_idle() == 1
        assert sandbox_state(provider, session) == SandboxState.STOPPED

    def test_the_next_use_starts_it_again(self, client, base, session, provider):
        idle_since(session, 61)
        sandboxes_stop_idle()

        use = sandbox_use_begin(session=session, kind=SandboxUseKind.TERMINAL)

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "ready"
        assert sandbox_state(provider, session) == SandboxState.RUNNING
        assert Session.objects.get(pk=session.pk).sandbox_stopped_reason == ""
        # Just started and held: the next pass leaves it alone.
        assert sandboxes_stop_idle() == 0
        sandbox_use_end(use)

    def test_a_client_stopping_the_session_stops_its_sandbox_and_ready_starts_it(
        self, client, base, session, provider, stopping
    ):
        stopped = client.patch(f"{base}/sessions/sess-1", {"status": "stopped"}, format="json")

        assert stopped.json()["status"] == "stopped"
        assert sandbox_state(provider, session) == SandboxState.STOPPED
        assert Session.objects.get(pk=session.pk).sandbox_stopped_reason == "stopped by its user"
        assert stopping == ["sess-1"]

        ready = client.patch(f"{base}/sessions/sess-1", {"status": "ready"}, format="json")

        assert ready.json()["status"] == "ready"
        assert sandbox_state(provider, session) == SandboxState.RUNNING

    def test_a_session_being_set_up_has_no_sandbox_to_start(self, session):
        Session.objects.filter(pk=session.pk).update(status=SessionStatus.REINITIALIZING)

        with pytest.raises(ConflictError, match="still being set up"):
            session_sandbox_start(session)


class TestReconcile:
    @docker_only
    def test_a_container_removed_outside_stops_the_session_until_it_is_used_again(
        self, client, base, session, docker
    ):
        name = docker.status(str(session.uuid)).name
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
        # Before the reconciler notices: the session's endpoints answer as before.
        assert client.get(f"{base}/sessions/sess-1").status_code == 200
        assert client.get(f"{base}/sessions/sess-1/files").status_code == 200

        sandboxes_reconcile()

        body = client.get(f"{base}/sessions/sess-1").json()
        assert body["status"] == "stopped"
        assert Session.objects.get(pk=session.pk).sandbox_stopped_reason == (
            "removed outside Discobot"
        )
        assert session_sandbox_status(session) is None  # not_created
        assert client.get(f"{base}/sessions/sess-1/files").status_code == 200

        session_sandbox_start(session)

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "ready"
        assert sandbox_state(docker, session) == SandboxState.RUNNING
        assert docker.exec(str(session.uuid), ["cat", "README.md"]).stdout == b"hello\n"

    @docker_only
    def test_a_container_stopped_outside_stops_the_session(self, client, base, session, docker):
        name = docker.status(str(session.uuid)).name
        subprocess.run(["docker", "stop", "-t", "0", name], check=True, capture_output=True)

        sandboxes_reconcile()

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "stopped"
        assert Session.objects.get(pk=session.pk).sandbox_stopped_reason == (
            "stopped outside Discobot"
        )

    def test_a_running_sandbox_is_left_alone(self, client, base, session, provider):
        sandboxes_reconcile()

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "ready"
        assert sandbox_state(provider, session) == SandboxState.RUNNING

    def test_a_sandbox_whose_session_is_gone_is_removed(self, provider, tmp_path):
        orphan = orphan_sandbox(provider, tmp_path)
        provider.start(orphan.session_uuid)

        sandboxes_reconcile()

        assert provider.status(orphan.session_uuid).state == SandboxState.MISSING

    @docker_only
    def test_another_installations_sandboxes_are_not_touched(self, docker, tmp_path, settings):
        settings.SANDBOX_INSTANCE = "another-discobot"
        theirs = SandboxSpec(
            session_uuid=str(uuid.uuid4()),
            session_id="theirs",
            project_id="local",
            working_copy=Path(tmp_path),
        )
        docker.create(theirs)
        try:
            settings.SANDBOX_INSTANCE = ""

            sandboxes_reconcile()

            assert docker.status(theirs.session_uuid).state == SandboxState.CREATED
        finally:
            docker.remove(theirs.session_uuid)

    @docker_only
    def test_an_engine_that_cannot_be_reached_is_skipped_not_taken_for_empty(
        self, client, base, session, docker, settings
    ):
        settings.DOCKER_HOST = CLOSED_DOCKER_HOST

        sandboxes_reconcile()

        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "ready"
        settings.DOCKER_HOST = ""
        assert sandbox_state(docker, session) == SandboxState.RUNNING

    def test_the_operators_command_reports_what_it_did(
        self, client, base, session, provider, tmp_path
    ):
        provider.remove(str(session.uuid))  # behind Discobot's back
        orphan = orphan_sandbox(provider, tmp_path)
        out = StringIO()

        call_command("reconcile_sandboxes", stdout=out)

        assert (
            "1 ready sessions found without a running sandbox, now stopped; "
            "1 sandboxes of deleted sessions removed"
        ) in out.getvalue()
        assert client.get(f"{base}/sessions/sess-1").json()["status"] == "stopped"
        assert provider.status(orphan.session_uuid).state == SandboxState.MISSING

    def test_the_command_names_an_engine_it_could_not_reach(self, settings):
        settings.DOCKER_HOST = CLOSED_DOCKER_HOST
        out = StringIO()

        call_command("reconcile_sandboxes", stdout=out)

        assert "Skipped, not reachable here: docker" in out.getvalue()


class TestRemoval:
    def test_deleting_a_session_removes_its_sandbox(
        self, client, base, session, provider, stopping
    ):
        assert client.delete(f"{base}/sessions/sess-1").status_code in (200, 202, 204)
        run_jobs()

        assert client.get(f"{base}/sessions/sess-1").status_code == 404
        assert sandbox_state(provider, session) == SandboxState.MISSING
        assert stopping == ["sess-1"]

    def test_deleting_a_workspace_removes_its_sessions_sandboxes(
        self,
        client,
        base,
        workspace,
        session,
        provider,
        stopping,
        django_capture_on_commit_callbacks,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.delete(f"{base}/workspaces/{workspace['id']}")

        assert response.status_code in (200, 202, 204)
        assert sandbox_state(provider, session) == SandboxState.MISSING
        assert stopping == ["sess-1"]
