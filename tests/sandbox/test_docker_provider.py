"""The docker provider against a real engine and the image sandbox/build-image.sh builds.

Skipped as a whole, with the reason, where no engine answers or the image is not built."""

from __future__ import annotations

import gc
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from apps.sandbox.provider import SandboxSpec, SandboxState
from tests.waiting import wait_for

pytest.importorskip("docker", reason="the docker SDK is not installed")

import contextlib

from apps.sandbox.docker import DockerProvider, container_name

try:
    _engine = DockerProvider()
except Exception as error:
    pytest.skip(f"no Docker engine answers: {error}", allow_module_level=True)
if not _engine.available():
    pytest.skip(
        f"no Docker engine answers or the image {settings.SANDBOX_IMAGE} is missing "
        "(build it with sandbox/build-image.sh)",
        allow_module_level=True,
    )


@pytest.fixture
def provider() -> DockerProvider:
    return DockerProvider()


@pytest.fixture
def spec(tmp_path: Path) -> SandboxSpec:
    working_copy = tmp_path / "copy"
    working_copy.mkdir()
    (working_copy / "README.md").write_text("hello from the working copy\n")
    subprocess.run(["git", "init", "-q", str(working_copy)], check=True)
    return SandboxSpec(
        session_uuid=str(uuid.uuid4()),
        session_id="chat 42/x",
        project_id=str(uuid.uuid4()),
        working_copy=working_copy,
        env={"SANDBOX_GREETING": "hi"},
    )


@pytest.fixture
def sandbox(provider: DockerProvider, spec: SandboxSpec):
    provider.create(spec)
    provider.start(spec.session_uuid)
    yield spec.session_uuid
    provider.remove(spec.session_uuid)


def inspect(provider: DockerProvider, session_uuid: str) -> dict:
    name = provider.status(session_uuid).name
    return provider._client.api.inspect_container(name)


def read_until(pty, needle: bytes) -> bytes:
    seen = bytearray()

    def found() -> bool:
        with contextlib.suppress(TimeoutError):
            seen.extend(pty.read(timeout=0.5))
        return needle in seen

    wait_for(found, timeout=30)
    return bytes(seen)


# --- lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_is_idempotent(provider, spec):
    try:
        first = provider.create(spec)
        assert provider.create(spec) == first
        assert first.state == SandboxState.CREATED
        assert first.name == container_name(spec)
        assert provider.start(spec.session_uuid).state == SandboxState.RUNNING
        assert provider.start(spec.session_uuid).state == SandboxState.RUNNING
        assert provider.stop(spec.session_uuid).state == SandboxState.STOPPED
        assert provider.stop(spec.session_uuid).state == SandboxState.STOPPED
        assert provider.start(spec.session_uuid).state == SandboxState.RUNNING
    finally:
        provider.remove(spec.session_uuid)
    provider.remove(spec.session_uuid)
    assert provider.status(spec.session_uuid).state == SandboxState.MISSING
    assert provider.stop(spec.session_uuid).state == SandboxState.MISSING


def test_container_name_is_readable_and_unique_across_projects(spec):
    other = SandboxSpec(
        session_uuid=str(uuid.uuid4()),
        session_id=spec.session_id,
        project_id=str(uuid.uuid4()),
        working_copy=spec.working_copy,
    )
    assert container_name(spec).startswith("discobot-session-chat-42-x-")
    assert container_name(spec) != container_name(other)


def test_list_holds_the_session_with_its_labels(provider, spec, sandbox):
    listed = {info.session_uuid: info for info in provider.list()}
    assert listed[sandbox].state == SandboxState.RUNNING
    labels = inspect(provider, sandbox)["Config"]["Labels"]
    assert labels["discobot.session"] == spec.session_uuid
    assert labels["discobot.session-id"] == spec.session_id
    assert labels["discobot.project"] == spec.project_id


def test_container_removed_from_outside_is_missing(provider, sandbox):
    name = provider.status(sandbox).name
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    assert provider.status(sandbox).state == SandboxState.MISSING
    assert sandbox not in {info.session_uuid for info in provider.list()}


# --- isolation ---------------------------------------------------------------------------------


def test_limits_and_hardening_come_from_settings(provider, sandbox):
    host = inspect(provider, sandbox)["HostConfig"]
    assert host["NanoCpus"] == int(settings.SANDBOX_CPUS * 1e9)
    assert host["Memory"] == 2 * 1024**3
    assert host["PidsLimit"] == settings.SANDBOX_PIDS_LIMIT
    assert host["NetworkMode"] == settings.SANDBOX_NETWORK
    assert host["Init"] is True
    assert "NET_RAW" in host["CapDrop"]
    assert not host["Privileged"]
    # Docker's default seccomp profile stays: nothing unconfines it.
    assert not any("unconfined" in opt for opt in host["SecurityOpt"] or [])


def test_commands_run_as_the_non_root_user_unless_root_is_asked(provider, sandbox):
    assert provider.exec(sandbox, ["id", "-u"]).stdout == b"1000\n"
    assert provider.exec(sandbox, ["id", "-u"], user="root").stdout == b"0\n"


def test_no_docker_socket_inside(provider, sandbox):
    result = provider.exec(sandbox, ["ls", "/var/run/docker.sock", "/run/docker.sock"])
    assert result.exit_code != 0


def test_working_copy_is_writable_by_the_sandbox_user_and_keeps_its_owner(provider, spec, sandbox):
    result = provider.exec(
        sandbox, ["sh", "-c", "echo made inside > new.txt && cat README.md && git status -s"]
    )
    assert result.exit_code == 0, result.stderr
    assert b"hello from the working copy" in result.stdout
    assert (spec.working_copy / "new.txt").read_text() == "made inside\n"
    assert spec.working_copy.stat().st_uid == Path(spec.working_copy).parent.stat().st_uid
    # A file the server writes later is writable inside too (the ACL is inherited).
    (spec.working_copy / "later.txt").write_text("from the server\n")
    assert provider.exec(sandbox, ["sh", "-c", "echo more >> later.txt"]).exit_code == 0


# --- exec --------------------------------------------------------------------------------------


def test_exec_returns_exit_code_stdout_and_stderr(provider, sandbox):
    result = provider.exec(sandbox, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
    assert not result.timed_out
    assert not result.truncated


def test_exec_honours_cwd_and_env(provider, spec, sandbox):
    provider.exec(sandbox, ["mkdir", "-p", "sub"])
    result = provider.exec(
        sandbox,
        ["sh", "-c", 'pwd; echo "$TOKEN $SANDBOX_GREETING"'],
        cwd="/workspace/sub",
        env={"TOKEN": "secret"},
    )
    assert result.stdout == b"/workspace/sub\nsecret hi\n"


def test_exec_is_stopped_at_its_timeout(provider, sandbox):
    result = provider.exec(sandbox, ["sleep", "30"], timeout=1)
    assert result.timed_out
    assert result.exit_code != 0


def test_exec_output_is_cut_at_the_cap(provider, sandbox):
    result = provider.exec(sandbox, ["sh", "-c", "head -c 100000 /dev/zero"], output_cap=1000)
    assert result.truncated
    assert len(result.stdout) == 1000
    assert result.exit_code == 0


# --- terminal ----------------------------------------------------------------------------------


def test_pty_echoes_input_and_follows_resizes(provider, sandbox):
    pty = provider.attach_pty(sandbox, ["bash", "--norc", "-i"], rows=30, cols=100)
    try:
        pty.write(b"echo hel''lo; stty size\n")
        # The typed line is echoed with its quotes; "hello" is the command's output.
        assert b"hello" in read_until(pty, b"30 100")
        pty.resize(40, 120)
        pty.write(b"stty size\n")
        read_until(pty, b"40 120")
        pty.write(b"id -u\n")
        read_until(pty, b"1000")
    finally:
        pty.close()


def test_terminals_attached_at_once_on_threads_all_keep_their_connection(provider, sandbox):
    # As a server attaches them (several threads, other engine calls in between). Their sockets
    # were once taken from what the engine client returned and the rest let go: the client's
    # pool then closed a few of them under their terminals.
    def attach(_: int):
        pty = provider.attach_pty(sandbox, ["cat"], rows=24, cols=80)
        provider.status(sandbox)
        return pty

    with ThreadPoolExecutor(6) as threads:
        ptys = list(threads.map(attach, range(150)))
    try:
        gc.collect()
        with ThreadPoolExecutor(6) as threads:
            list(threads.map(lambda _: provider.status(sandbox), range(60)))
        for index, pty in enumerate(ptys):
            pty.write(f"marker-{index}\n".encode())
            read_until(pty, f"marker-{index}".encode())
    finally:
        for pty in ptys:
            pty.close()


def test_pty_as_root(provider, sandbox):
    pty = provider.attach_pty(sandbox, ["sh"], rows=24, cols=80, root=True)
    try:
        pty.write(b"echo uid=$(id -u)\n")
        read_until(pty, b"uid=0")
    finally:
        pty.close()


def test_pty_read_ends_when_the_program_ends(provider, sandbox):
    pty = provider.attach_pty(sandbox, ["sh", "-c", "echo bye"], rows=24, cols=80)
    try:
        read_until(pty, b"bye")
        wait_for(lambda: pty.read(timeout=5) == b"", timeout=30)
    finally:
        pty.close()
