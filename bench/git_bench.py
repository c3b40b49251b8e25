"""Figures for the git issue: diff and file-listing latency on a large session, and the mirror.

    .venv/bin/python bench/git_bench.py [--files 10000] [--requests 40]

Times `GET /sessions/{id}/diff?format=files` and `GET .../files?path=.` over real HTTP
(`python -m discobot.server`, SQLite) on a `--files` repository with 200 changed files, against
the `git` command line doing the equivalent in the session's working copy in the same run,
alternated: `git diff -M --name-status --shortstat <base>` (the changed paths, their statuses
and the totals) and `git ls-tree -l HEAD` (the top folder's entries and sizes). Each side's time
is the wall clock of the whole request or command, process start included for git, as a user of
either pays it. Before each pair of calls one of the changed files changes again, as after an
agent's step. Goal: the median at most 1.5x git's. Also prints the time of a first and a second
clone of a 50 MB repository served by `git daemon` (no goal).
"""

from __future__ import annotations

import argparse
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

from bench.table import Row, emit  # noqa: E402
from tests.gitserver import git_daemon  # noqa: E402
from tests.servers import running_server  # noqa: E402

GOAL_RATIO = 1.5


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


def timed_ms(run: Any) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def session_latency(work: Path, files: int, requests: int) -> list[Row]:
    repo = work / "big"
    make_repository(repo, files)
    changes = min(200, files // 50)
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
        changed = sorted(copy.glob("pkg*/module*.py"))[::50][:changes]
        for file in changed:
            file.write_text(file.read_text().replace(" = 3\n", " = 33\n"))
        diff = call(server.base_url, "/api/projects/local/sessions/bench/diff?format=files")
        assert diff["stats"]["filesChanged"] == changes, diff["stats"]
        # The working copy's HEAD is the session's base commit (nothing is committed here).
        git_diff = ["git", "-C", str(copy), "diff", "-M", "--name-status", "--shortstat", "HEAD"]
        git_list = ["git", "-C", str(copy), "ls-tree", "-l", "HEAD"]
        rows = []
        for label, path, command, git_label in (
            ("session diff, format=files", "diff?format=files", git_diff, "git diff"),
            ("session file listing, path=.", "files?path=.", git_list, "git ls-tree"),
        ):
            url = f"/api/projects/local/sessions/bench/{path}"
            ours, baseline = [], []
            for round_ in range(requests):
                # As after an agent's step: one file changed since the last look.
                step = changed[round_ % len(changed)]
                step.write_text(step.read_text().replace(" = 33\n", " = 333\n", 1))
                ours.append(timed_ms(lambda url=url: call(server.base_url, url)))
                baseline.append(
                    timed_ms(
                        lambda command=command: subprocess.run(
                            command, check=True, capture_output=True
                        )
                    )
                )
            median, git_median = statistics.median(ours), statistics.median(baseline)
            print(
                f"GET {path:20} median {median:7.1f} ms   p95 {percentile(ours, 0.95):7.1f} ms"
                f"   git: median {git_median:7.1f} ms   ({requests} requests)"
            )
            rows.append(
                Row(
                    f"{label}, {files:,} files, median (ms; vs {git_label})",
                    median,
                    git_median,
                    f"<= {GOAL_RATIO:g}x",
                    median <= GOAL_RATIO * git_median,
                )
            )
        return rows


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        rows = session_latency(work, arguments.files, arguments.requests)
        mirror_clone(work)
    emit(rows)


if __name__ == "__main__":
    main()
