"""The fixed cast of every API test: an owner, an admin and a member of one project, and an
outsider who owns a project of their own. Multi-user tests run with AUTH_ENABLED=true and
log in through Django's session cookie."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.projects.models import Project, Role
from apps.sandbox.provider import SandboxProvider
from apps.sandbox.selectors import provider_get, providers_available
from tests.accounts.factories import UserFactory
from tests.projects.factories import MemberFactory, ProjectFactory


@pytest.fixture
def auth_enabled(settings):
    settings.AUTH_ENABLED = True
    # Whether or not this machine has a Docker engine, sessions may run on the local provider,
    # as an operator allows it (tests/sandbox pins the refusal when it is not allowed).
    settings.LOCAL_PROVIDER_ENABLED = True


@pytest.fixture
def anonymous_client(db) -> APIClient:
    """A client of the default anonymous mode (AUTH_ENABLED=false)."""
    return APIClient()


@pytest.fixture
def client_for(auth_enabled) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner(db) -> User:
    return UserFactory.create(email="owner@example.com", name="Olivia Owner")


@pytest.fixture
def admin(db) -> User:
    return UserFactory.create(email="admin@example.com", name="Adam Admin")


@pytest.fixture
def member(db) -> User:
    return UserFactory.create(email="member@example.com", name="Mia Member")


@pytest.fixture
def outsider(db) -> User:
    return UserFactory.create(email="outsider@example.com", name="Oscar Outsider")


@pytest.fixture
def project(owner, admin, member) -> Project:
    project = ProjectFactory.create(name="Team Project")
    MemberFactory.create(project=project, user=owner, role=Role.OWNER)
    MemberFactory.create(project=project, user=admin, role=Role.ADMIN)
    MemberFactory.create(project=project, user=member, role=Role.MEMBER)
    return project


@pytest.fixture
def other_project(outsider) -> Project:
    project = ProjectFactory.create(name="Outsider's Project")
    MemberFactory.create(project=project, user=outsider, role=Role.OWNER)
    return project


@pytest.fixture(autouse=True)
def job_settings(settings, tmp_path):
    """Retries without waiting; clones, working copies and locks under the test's own folder;
    sessions on the local provider unless a test asks for docker (fast, and no containers)."""
    settings.JOB_RETRY_BACKOFF_SECONDS = 0
    settings.SANDBOX_PROVIDER = "local"
    settings.WORKSPACE_DIR = tmp_path / "workspaces"
    settings.SESSIONS_DIR = tmp_path / "sessions"
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def git_repo(tmp_path) -> Path:
    """A repository with one commit, made with the git command line."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "README.md").write_text("hello\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    return repo


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A transactional test empties the tables when it ends; without `serialized_rollback` the
    seeded rows (the `local` project, content types) come back with new ids, and the next test
    that restores them fails at setup. Refuse such a test at collection instead."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and not marker.kwargs.get("serialized_rollback")
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: a transactional test needs serialized_rollback=True"
            )


@pytest.fixture(params=["local", "docker"])
def provider(request) -> SandboxProvider:
    """Every provider this machine can run; docker is skipped, saying so, without an engine."""
    if request.param not in providers_available():
        pytest.skip(f"the {request.param} provider is not available here (no engine answers)")
    found = provider_get(request.param)
    assert found is not None
    return found
