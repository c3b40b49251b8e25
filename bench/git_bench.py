"""Figures for the git issue: diff and file-listing latency on a large session, and the mirror.

    .venv/bin/python bench/git_bench.py

Prints the median and p95 of `GET /sessions/{id}/diff?format=files` and `GET .../files?path=.`
over real HTTP (`python -m discobot.server`, SQLite) on a 10,000-file repository with 200
changed files, and the
time of a first and a second clone of a 50 MB repository served by `git daemon`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.gitserver import git_daemon  # noqa: E402
from tests.servers import running_server  # noqa: E402

REQUESTS = 40


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=B", "-c", "user.email=b@example.com", *args],
        check=True,
        capture_output=True,
    )


def make_repository(path: Path, files: int) -> None:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for index in range(files):
        folder = path / f"pkg{index // 100:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{index:05d}.py").write_text(
            "".join(f"value_{index}_{line} = {line}\n" for line in range(20))
        )
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "generated")


def call(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def timings(base: str, path: str) -> tuple[float, float]:
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        call(base, path)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def session_latency(work: Path) -> None:
    repo = work / "big"
    make_repository(repo, 10_000)
    with running_server(work / "server") as server:
        workspace = call(server.base_url, "/api/projects/local/workspaces", {"path": str(repo)})
        server.manage("worker", "--batch")
        call(
            server.base_url,
            "/api/projects/local/sessions",
            {"id": "bench", "workspaceId": workspace["id"]},
        )
        server.manage("worker", "--batch")
        session = call(server.base_url, "/api/projects/local/sessions/bench")
        copy = Path(session["workspacePath"])
        changed = sorted(copy.glob("pkg*/module*.py"))[::50][:200]
        for file in changed:
            file.write_text(file.read_text().replace(" = 3\n", " = 33\n"))
        diff = call(server.base_url, "/api/projects/local/sessions/bench/diff?format=files")
        assert diff["stats"]["filesChanged"] == 200, diff["stats"]
        for label, path in (
            ("diff?format=files", "/api/projects/local/sessions/bench/diff?format=files"),
            ("files?path=.", "/api/projects/local/sessions/bench/files?path=."),
        ):
            median, p95 = timings(server.base_url, path)
            print(
                f"GET {label:20} median {median:7.1f} ms   p95 {p95:7.1f} ms"
                f"   ({REQUESTS} requests)"
            )


def mirror_clone(work: Path) -> None:
    served = work / "served"
    served.mkdir()
    repo = served / "large"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for index in range(50):
        (repo / f"blob{index:02d}.bin").write_bytes(os.urandom(1024 * 1024))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "50 MB")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")
    os.environ["DATA_DIR"] = str(work / "clone-data")
    os.environ["WORKSPACE_DIR"] = str(work / "clone-data" / "workspaces")
    import django

    django.setup()
    from apps.gitops.provider import git_provider

    provider = git_provider()
    with git_daemon(served) as port:
        url = f"git://127.0.0.1:{port}/large"
        for label, target in (("first", "one"), ("second", "two")):
            start = time.perf_counter()
            provider.clone(url, work / "clone-data" / "workspaces" / target)
            print(f"clone of a 50 MB repository, {label:6}: {time.perf_counter() - start:6.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        session_latency(work)
        mirror_clone(work)


if __name__ == "__main__":
    main()
