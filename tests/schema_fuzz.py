"""Schemathesis over the whole published API, against a real server with auth on.

The server gets a signed-in user with an API token and a project holding a ready workspace (a
git repository inside WORKSPACE_ROOTS), a ready session, an agent and a credential, so that
generated requests reach real handlers instead of stopping at a 404; its LLM providers are a
local stand-in that says yes (tests/schema/provider.py). Every check is on: server errors,
status codes, content types and bodies that disagree with the schema, valid inputs refused and
invalid ones accepted.

Used by tests/schema/test_schemathesis.py (a bounded run in `make test`) and by
bench/schema_fuzz.py (a long run that prints its counts).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.schema.provider import agreeing_provider, provider_settings
from tests.servers import BASE_DIR, Server, running_server

SESSION_SECRET = "schema-fuzz-session-secret-0123456789abcdef"
ENCRYPTION_KEY = "8f" * 32
# Operations whose success would take the seeded data away from every later case: they are
# fuzzed on a resource of their own (see `SACRIFICED`).
SACRIFICED = {
    ("DELETE", "/api/projects/{project_id}"): "project_id",
    # Without a spare project the user would leave the fuzzed one.
    ("DELETE", "/api/projects/{project_id}/members/{user_id}"): "project_id",
    ("DELETE", "/api/projects/{project_id}/workspaces/{workspace_id}"): "workspace_id",
    ("DELETE", "/api/projects/{project_id}/sessions/{session_id}"): "session_id",
    ("DELETE", "/api/projects/{project_id}/agents/{agent_id}"): "agent_id",
    ("DELETE", "/api/projects/{project_id}/credentials/{provider}"): "provider",
}
# The event stream never ends: it has tests of its own (tests/projects/test_events_stream.py).
EXCLUDED_PATHS = ("/api/projects/{project_id}/events",)
# Schema-valid requests the server rightly refuses with 400 for a reason no schema can state
# (the operations' descriptions say it): for these, a 400 to a valid request is expected.
# Every other check stays on. The rules JSON Schema cannot state but a fuzzer can follow are
# hooks instead (tests/schema/hooks.py).
STATEFUL_REFUSALS = {
    ("POST", "/api/projects/{project_id}/invitations/accept"): (
        "contract §2: a missing or expired invitation is 400"
    ),
    ("POST", "/api/projects/{project_id}/invitations/{token}/accept"): (
        "contract §2: a missing or expired invitation is 400"
    ),
    ("POST", "/api/projects/{project_id}/workspaces"): (
        "a folder must exist on the server, be readable and lie inside WORKSPACE_ROOTS"
    ),
    ("PUT", "/api/projects/{project_id}/workspaces/{workspace_id}"): (
        "a folder must exist on the server, be readable and lie inside WORKSPACE_ROOTS"
    ),
}
POSITIVE_EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
HOOKS = "tests.schema.hooks"


@dataclass
class Seed:
    """The ids of what the fuzzed user may touch."""

    token: str
    ids: dict[str, str]
    spare: dict[str, str] = field(default_factory=dict)


@dataclass
class FuzzResult:
    exit_code: int
    output: str
    report: dict

    @property
    def summary(self) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()]
        return "\n".join(lines[-40:])


def call(server: Server, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def git_repository(path: Path) -> Path:
    path.mkdir(parents=True)
    git = ["git", "-C", str(path), "-c", "user.name=F", "-c", "user.email=f@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (path / "README.md").write_text("fuzzed\n")
    (path / "src").mkdir()
    (path / "src" / "app.py").write_text("print('hello')\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    return path


def jobs_run(server: Server) -> None:
    ran = server.manage("worker", "--batch")
    assert ran.returncode == 0, ran.stderr


def wait_ready(server: Server, token: str, *paths: str) -> None:
    """Runs the jobs until every resource at `paths` is ready."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs_run(server)
        if all(call(server, token, "GET", path).get("status") == "ready" for path in paths):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{paths} did not become ready")


def seed(server: Server, roots: Path) -> Seed:
    made = server.manage("create_token", "--email", "fuzz@example.com", "--create-user")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    project = call(server, token, "POST", "/api/projects", {"name": "Fuzzed"})["id"]
    spare_project = call(server, token, "POST", "/api/projects", {"name": "Spare"})["id"]
    base = f"/api/projects/{project}"
    workspaces = []
    for name in ("repo", "spare-repo"):
        repo = git_repository(roots / name)
        workspaces.append(call(server, token, "POST", f"{base}/workspaces", {"path": str(repo)}))
    sessions = ("fuzz-session", "spare-session")
    for session_id in sessions:
        call(
            server,
            token,
            "POST",
            f"{base}/sessions",
            {"id": session_id, "workspaceId": workspaces[0]["id"]},
        )
    wait_ready(
        server,
        token,
        *(f"{base}/workspaces/{workspace['id']}" for workspace in workspaces),
        *(f"{base}/sessions/{session_id}" for session_id in sessions),
    )
    agent, spare_agent = (
        call(server, token, "POST", f"{base}/agents", {"name": name, "agentType": "claude-code"})
        for name in ("Fuzz agent", "Spare agent")
    )
    for provider in ("anthropic", "openai"):
        call(
            server,
            token,
            "POST",
            f"{base}/credentials",
            {"provider": provider, "authType": "api_key", "apiKey": "sk-fuzz-0123456789"},
        )
    me = call(server, token, "GET", "/auth/me")
    return Seed(
        token=token,
        ids={
            "project_id": project,
            "workspace_id": workspaces[0]["id"],
            "session_id": "fuzz-session",
            "agent_id": agent["id"],
            "provider": "anthropic",
            "user_id": me["id"],
        },
        spare={
            "project_id": spare_project,
            "workspace_id": workspaces[1]["id"],
            "session_id": "spare-session",
            "agent_id": spare_agent["id"],
            "provider": "openai",
        },
    )


@contextmanager
def fuzzed_server(tmp_path: Path) -> Iterator[tuple[Server, Seed]]:
    """A real server with auth on, and what its fuzzed user owns."""
    roots = tmp_path / "roots"
    roots.mkdir()
    with (
        agreeing_provider() as provider,
        running_server(
            tmp_path,
            AUTH_ENABLED="true",
            SESSION_SECRET=SESSION_SECRET,
            ENCRYPTION_KEY=ENCRYPTION_KEY,
            WORKSPACE_ROOTS=str(roots),
            LOCAL_PROVIDER_ENABLED="true",  # sessions run whether or not Docker is here
            AUTH_FAILURE_RATE="100000/m",
            UPSTREAM_TIMEOUT_SECONDS="2",
            LOG_LEVEL="ERROR",
            **provider_settings(provider),
        ) as server,
    ):
        yield server, seed(server, roots)


def config_file(path: Path, seed: Seed) -> Path:
    """Real ids for path parameters; each destructive operation gets a spare resource; the
    operations of STATEFUL_REFUSALS expect a 400 to a valid request."""
    lines = ["[parameters]"]
    lines += [f'"path.{name}" = "{value}"' for name, value in seed.ids.items()]
    for (method, operation_path), name in SACRIFICED.items():
        lines += [
            "",
            "[[operations]]",
            f'include-method = "{method}"',
            f'include-path = "{operation_path}"',
            "[operations.parameters]",
        ]
        values = {**seed.ids, name: seed.spare[name]}
        lines += [f'"path.{key}" = "{value}"' for key, value in values.items()]
    for (method, operation_path), reason in STATEFUL_REFUSALS.items():
        lines += [
            "",
            f"# {reason}",
            "[[operations]]",
            f'include-method = "{method}"',
            f'include-path = "{operation_path}"',
            "[operations.checks.positive_data_acceptance]",
            f"expected-statuses = {json.dumps([*POSITIVE_EXPECTED, '400'])}",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def schema_file(server: Server, token: str, path: Path) -> Path:
    request = urllib.request.Request(
        f"{server.base_url}/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )
    # Generous: a loaded machine may take a while to render the whole schema the first time.
    with urllib.request.urlopen(request, timeout=300) as response:
        path.write_bytes(response.read())
    return path


def run_schemathesis(
    server: Server, seed: Seed, workdir: Path, *, max_examples: int, seed_value: int = 1
) -> FuzzResult:
    """Runs the schemathesis CLI with every check; returns its exit code, output and report."""
    report = workdir / "report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file(workdir / "schemathesis.toml", seed)),
        "--no-color",
        "run",
        str(schema_file(server, seed.token, workdir / "openapi.json")),
        "--url",
        server.base_url,
        "--header",
        f"Authorization: Bearer {seed.token}",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed_value),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *[arg for path in EXCLUDED_PATHS for arg in ("--exclude-path", path)],
    ]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(BASE_DIR)}
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=environment,
        timeout=3600,
        check=False,
    )
    output = finished.stdout + finished.stderr
    data = json.loads(report.read_text()) if report.exists() else {}
    return FuzzResult(exit_code=finished.returncode, output=output, report=data)


# The kinds of failure issue 10 counts, reported even when none was found.
HEADLINE_FAILURES = {
    "ST101": "server errors",
    "ST108": "responses that violate their schema",
    "ST103": "undocumented status codes",
    "ST202": "schema-valid requests refused",
    "ST201": "schema-violating requests accepted",
}


def counts(result: FuzzResult) -> dict[str, int]:
    """Cases generated, passed and failed, and the failures by kind (from the JSON report)."""
    cases = result.report.get("test_cases", {})
    generated = cases.get("generated", 0)
    found = {
        "cases generated": generated,
        "passed": generated
        - cases.get("with_failures", 0)
        - cases.get("without_checks", 0)
        - cases.get("errored", 0),
        "failed": cases.get("with_failures", 0),
        "errored": cases.get("errored", 0),
        "not checked (no check applied)": cases.get("without_checks", 0),
    }
    by_code = {failure["code"]: failure for failure in result.report.get("failures", [])}
    for code, label in HEADLINE_FAILURES.items():
        found[f"{label} ({code})"] = by_code.pop(code, {}).get("count", 0)
    for code, failure in by_code.items():
        found[f"{failure['title'].lower()} ({code})"] = failure["count"]
    return found


def failed_operations(result: FuzzResult) -> dict[str, list[str]]:
    """For each kind of failure, the operations where it was found."""
    return {
        f"{failure['code']} {failure['title']}": failure["operations"]
        for failure in result.report.get("failures", [])
    }


def failure_details(result: FuzzResult) -> str:
    """The CLI's FAILURES section: each failure with its response and a curl to reproduce it."""
    match = re.search(
        r"^=+ FAILURES =+$(.*?)^=+ (?:WARNINGS|SUMMARY) =+$", result.output, re.M | re.S
    )
    return match[1].strip() if match else ""
