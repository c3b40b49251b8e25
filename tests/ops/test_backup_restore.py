"""Back up and restore exactly as docs/operations.md says (issue 17, item 7): an installation
with a project, a local-folder and a cloned workspace, a session with a file of its own and a
credential sealed under ENCRYPTION_KEY is backed up with `manage.py backup`, destroyed
(database dropped, folders removed), restored with `manage.py restore` into a new database,
and served again: the API shows it all back and the credential still decrypts.

The database is the suite's kind: PostgreSQL (pg_dump/pg_restore) when DATABASE_URL names
one, else SQLite (its backup API)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import environ
import psycopg
import pytest
import requests

from tests.llmserver import LLMServer, llm_server
from tests.servers import (
    Server,
    clean_environment,
    manage,
    server_database_url,
    serving,
    stop_process,
)
from tests.waiting import wait_for

POSTGRESQL = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
OPENAI_KEY = "sk-backup-" + "k" * 24

pytestmark = pytest.mark.skipif(
    POSTGRESQL and not (shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="PostgreSQL's client tools (pg_dump, pg_restore) are not installed here",
)


class Api:
    """A script's view of the server: a bearer token over real HTTP."""

    def __init__(self, server: Server, token: str, project_id: str = "") -> None:
        self.base = f"{server.base_url}/api"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.project = f"{self.base}/projects/{project_id}"

    def get(self, route: str, **params: str) -> requests.Response:
        return self.http.get(f"{self.project}{route}", params=params, timeout=30)

    def post(self, route: str, body: dict | None = None) -> requests.Response:
        return self.http.post(f"{self.project}{route}", json=body, timeout=30)


def drop_database(url: str) -> None:
    if not POSTGRESQL:
        Path(environ.Env.db_url_config(url)["NAME"]).unlink()
        return
    name = environ.Env.db_url_config(url)["NAME"]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def make_repository(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("hello from the workspace\n")
    git = ["git", "-C", str(folder), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    for command in (["init", "-q", "-b", "main"], ["add", "README.md"], ["commit", "-qm", "1"]):
        subprocess.run([*git, *command], check=True)
    return folder


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with llm_server() as server:
        yield server


def test_a_backup_restores_into_a_new_database_with_its_files_and_secrets(tmp_path, llm):
    roots = tmp_path / "roots"
    repository = make_repository(roots / "project")
    data = tmp_path / "data"
    backup = tmp_path / "backups" / "nightly"
    (tmp_path / "source").mkdir()
    (tmp_path / "restored").mkdir()
    with ExitStack() as stack:
        source_url = stack.enter_context(server_database_url(tmp_path / "source"))
        restored_url = stack.enter_context(server_database_url(tmp_path / "restored"))
        env = clean_environment(
            DATABASE_URL=source_url,
            DATA_DIR=str(data),
            AUTH_ENABLED="true",
            SESSION_SECRET=secrets.token_hex(32),
            ENCRYPTION_KEY=secrets.token_hex(32),
            WORKSPACE_ROOTS=str(roots),
            SANDBOX_PROVIDER="local",
            LOCAL_PROVIDER_ENABLED="true",
            OPENAI_BASE_URL=f"{llm.base_url}/v1",
        )

        # An installation in use.
        assert manage("migrate", "--noinput", env=env).returncode == 0
        minted = manage("create_token", "--email", "op@example.com", "--create-user", env=env)
        token = minted.stdout.strip()
        with serving(env, tmp_path / "source.log") as server:
            worker = server.start_worker(log=tmp_path / "worker.log")
            try:
                api = Api(server, token)
                project = api.http.post(f"{api.base}/projects", json={"name": "Kept"}).json()
                api = Api(server, token, project["id"])
                local = api.post("/workspaces", {"path": str(repository)}).json()
                cloned = api.post(
                    "/workspaces", {"path": str(repository), "sourceType": "git"}
                ).json()
                wait_for(lambda: api.get(f"/workspaces/{cloned['id']}").json()["status"] == "ready")
                created = api.post("/sessions", {"id": "kept-1", "workspaceId": cloned["id"]})
                assert created.status_code == 201, created.text
                wait_for(lambda: api.get("/sessions/kept-1").json()["status"] == "ready")
                written = api.http.put(
                    f"{api.project}/sessions/kept-1/files/write",
                    json={"path": "notes.md", "content": "keep me\n"},
                    timeout=30,
                )
                assert written.status_code == 200, written.text
                stored = api.post("/credentials", {"provider": "openai", "apiKey": OPENAI_KEY})
                assert stored.status_code == 200, stored.text
            finally:
                stop_process(worker)

        backed_up = manage("backup", str(backup), env=env)
        assert backed_up.returncode == 0, backed_up.stderr
        assert sorted(os.listdir(backup)) == [
            "database.dump" if POSTGRESQL else "database.sqlite3",
            "files.tar.gz",
            "manifest.json",
        ]
        assert OPENAI_KEY.encode() not in b"".join(path.read_bytes() for path in backup.iterdir())

        # The disaster.
        drop_database(source_url)
        shutil.rmtree(data)

        env["DATABASE_URL"] = restored_url
        restored = manage("restore", str(backup), env=env)
        assert restored.returncode == 0, restored.stderr
        assert "next: manage.py migrate" in restored.stdout
        assert manage("migrate", "--noinput", env=env).returncode == 0
        reconciled = manage("reconcile_sandboxes", env=env)
        assert reconciled.returncode == 0, reconciled.stderr
        # The dump alone opens no secret: under another key not one of them reads.
        other_key = manage("rotate_encryption_key", env={**env, "ENCRYPTION_KEY": "ab" * 32})
        assert "is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS_OLD" in other_key.stderr

        with serving(env, tmp_path / "restored.log") as server:
            api = Api(server, token, project["id"])
            workspaces = {w["id"]: w["status"] for w in api.get("/workspaces").json()["workspaces"]}
            assert workspaces == {local["id"]: "ready", cloned["id"]: "ready"}
            readme = api.get(f"/workspaces/{cloned['id']}/git/file", path="README.md")
            assert readme.json()["content"] == "hello from the workspace\n"
            notes = api.get("/sessions/kept-1/files/read", path="notes.md")
            assert notes.json()["content"] == "keep me\n"
            assert api.post("/credentials/openai/test").json() == {"ok": True}
            assert llm.requests[-1].header("authorization") == f"Bearer {OPENAI_KEY}"


def test_a_restore_refuses_a_database_in_use(tmp_path):
    with server_database_url(tmp_path) as url:
        env = clean_environment(DATABASE_URL=url, DATA_DIR=str(tmp_path / "data"))
        assert manage("migrate", "--noinput", env=env).returncode == 0
        backed_up = manage("backup", str(tmp_path / "backup"), env=env)
        assert backed_up.returncode == 0, backed_up.stderr

        refused = manage("restore", str(tmp_path / "backup"), env=env)

        assert refused.returncode != 0
        assert "restore into a new, empty database" in refused.stderr


def test_a_restore_refuses_folders_other_than_those_the_database_names(tmp_path):
    with server_database_url(tmp_path) as url, server_database_url(tmp_path / "new") as new_url:
        env = clean_environment(DATABASE_URL=url, DATA_DIR=str(tmp_path / "data"))
        assert manage("migrate", "--noinput", env=env).returncode == 0
        assert manage("backup", str(tmp_path / "backup"), env=env).returncode == 0
        elsewhere = {**env, "DATABASE_URL": new_url, "DATA_DIR": str(tmp_path / "elsewhere")}

        refused = manage("restore", str(tmp_path / "backup"), env=elsewhere)

        assert refused.returncode != 0
        assert f"The database names files under {tmp_path / 'data'}: set DATA_DIR" in refused.stderr
