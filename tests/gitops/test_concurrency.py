"""Many writers and a commit at once leave both repositories consistent and lose nothing."""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import close_old_connections
from rest_framework.test import APIClient

from apps.core.jobs import job_run
from apps.core.models import Job, JobStatus
from tests.gitops.conftest import git
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WRITERS = 8
FILES_PER_WRITER = 10


def test_parallel_writes_and_a_commit(client_for, member, project, repo):
    client = client_for(member)
    base = f"/api/projects/{project.id}"
    workspace = client.post(f"{base}/workspaces", {"path": str(repo)}, format="json").json()
    run_jobs()
    client.post(f"{base}/sessions", {"id": "busy", "workspaceId": workspace["id"]}, format="json")
    run_jobs()
    session = f"{base}/sessions/busy"
    client.put(f"{session}/files/write", {"path": "seed.txt", "content": "seed\n"}, format="json")
    client.post(f"{session}/commit")
    commit_job = Job.objects.get(type="session_commit")
    start = threading.Barrier(WRITERS + 1)

    def write(writer: int) -> list[int]:
        own = APIClient()
        own.force_login(member)
        start.wait()
        codes = []
        for index in range(FILES_PER_WRITER):
            response = own.put(
                f"{session}/files/write",
                {"path": f"w{writer}/f{index}.txt", "content": f"{writer}-{index}\n"},
                format="json",
            )
            codes.append(response.status_code)
        close_old_connections()
        return codes

    def commit() -> None:
        start.wait()
        job_run(job_id=str(commit_job.id), worker_id="concurrent-worker")
        close_old_connections()

    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        writes = [pool.submit(write, writer) for writer in range(WRITERS)]
        committing = pool.submit(commit)
        committing.result()
        codes = [code for future in writes for code in future.result()]

    assert codes == [200] * WRITERS * FILES_PER_WRITER
    commit_job.refresh_from_db()
    assert commit_job.status == JobStatus.COMPLETED
    copy = Path(client.get(session).json()["workspacePath"])
    for repository in (repo, copy):
        subprocess.run(
            ["git", "-C", str(repository), "fsck", "--strict"], check=True, capture_output=True
        )
    # Every file written is either in the workspace's new commit or still a session change.
    committed = set(git(repo, "ls-files").splitlines())
    pending = {
        f["path"] for f in client.get(f"{session}/diff", {"format": "files"}).json()["files"]
    }
    for writer in range(WRITERS):
        for index in range(FILES_PER_WRITER):
            path = f"w{writer}/f{index}.txt"
            assert path in committed or path in pending, path
            assert (copy / path).read_text() == f"{writer}-{index}\n"
            if path in committed:
                assert (repo / path).read_text() == f"{writer}-{index}\n"
    assert "seed.txt" in committed
