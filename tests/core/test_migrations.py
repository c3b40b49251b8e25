"""Jobs moved from `projects` to `core` by a state-only migration: a database that already
holds jobs migrates forward and keeps them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers import clean_environment, manage, server_database_url

OLD_JOB = (
    "from django.db import connection; "
    "connection.cursor().execute("
    '"INSERT INTO projects_job (id, project_id, type, resource_type, resource_id, status, '
    "attempts, max_attempts, error, worker_id, created_at) VALUES ("
    "'8d3c7f4e1a2b4c5d9e0f1a2b3c4d5e6f', 'local', 'workspace_init', 'workspace', 'w-1', "
    "'pending', 0, 3, '', '', CURRENT_TIMESTAMP)\")"
)
READ_JOBS = (
    "import json; from apps.core.models import Job; "
    "print(json.dumps([[str(j.id), j.project_id, j.type, j.status] for j in Job.objects.all()]))"
)


def test_a_database_with_jobs_from_before_the_move_migrates_and_keeps_them(tmp_path: Path) -> None:
    with server_database_url(tmp_path) as url:
        env = clean_environment(DATABASE_URL=url, DATA_DIR=str(tmp_path / "data"))

        def run(*args: str) -> str:
            result = manage(*args, env=env)
            assert result.returncode == 0, result.stderr
            return result.stdout

        run("migrate", "--noinput", "projects", "0003_job")  # where jobs were the projects app's
        run("shell", "--no-imports", "-c", OLD_JOB)
        run("migrate", "--noinput")
        jobs = json.loads(run("shell", "--no-imports", "-c", READ_JOBS))

    assert jobs == [["8d3c7f4e-1a2b-4c5d-9e0f-1a2b3c4d5e6f", "local", "workspace_init", "pending"]]
