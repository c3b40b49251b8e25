from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.sandbox.provider import SandboxSpec

# A port nothing listens on: the "no engine" paths never depend on what this machine runs.
CLOSED_DOCKER_HOST = "tcp://127.0.0.1:9"


@pytest.fixture
def no_engine(settings) -> None:
    settings.DOCKER_HOST = CLOSED_DOCKER_HOST


@pytest.fixture
def working_copy(tmp_path) -> Path:
    copy = tmp_path / "copy"
    (copy / "sub").mkdir(parents=True)
    (copy / "marker.txt").write_text("the working copy\n")
    (copy / "sub" / "inner.txt").write_text("inside sub\n")
    return copy


@pytest.fixture
def spec(working_copy) -> SandboxSpec:
    session_uuid = uuid.uuid4().hex
    return SandboxSpec(
        session_uuid=session_uuid,
        session_id=f"s{session_uuid[:8]}",
        project_id="local",
        working_copy=working_copy,
        env={"SANDBOX_GREETING": "from the spec"},
    )


@pytest.fixture
def running(provider, spec) -> Iterator[str]:
    """A started sandbox, removed after the test."""
    provider.create(spec)
    provider.start(spec.session_uuid)
    yield spec.session_uuid
    provider.remove(spec.session_uuid)
