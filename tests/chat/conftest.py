from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.sandbox.provider import SandboxSpec
from tests.terminal.conftest import provider_name, short_tmp  # noqa: F401 (shared fixtures)


@pytest.fixture
def working_copy(tmp_path) -> Path:
    """A session's working copy: a git repository with one commit."""
    copy = tmp_path / "copy"
    (copy / "src").mkdir(parents=True)
    (copy / "README.md").write_text("# Demo\nhello world\n")
    (copy / "src" / "app.py").write_text("def greet():\n    return 'hello'\n")
    git = ["git", "-C", str(copy), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    return copy


@pytest.fixture
def running(provider, working_copy) -> Iterator[str]:
    """The session's started sandbox, removed after the test."""
    session_uuid = uuid.uuid4().hex
    spec = SandboxSpec(
        session_uuid=session_uuid,
        session_id=f"s{session_uuid[:8]}",
        project_id="local",
        working_copy=working_copy,
    )
    provider.create(spec)
    provider.start(session_uuid)
    yield session_uuid
    provider.remove(session_uuid)
