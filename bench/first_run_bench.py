"""Figure for a first run: a fresh clone until `make run` answers `/health`.

    .venv/bin/python bench/first_run_bench.py

Clones this repository's HEAD (committed work only) into a temporary folder with `git clone`,
then runs `make run PORT=<a free port>` there with DATA_DIR in the temporary folder and no
Discobot setting from this environment (so SQLite and the embedded defaults), and times from
the start of the clone until `GET /health` answers 200. The clone has no `.venv`, so the time
includes creating it and installing what `make run` installs; the machine's package caches
(pip's, uv's) are left as they are, as a second user of the machine would find them, so this
measures a warm cache, not a download. The whole process group of `make run` (the server and
its job worker) is stopped at the end. Goal: at most 20 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import Row, emit  # noqa: E402
from tests.servers import clean_environment, free_port  # noqa: E402

GOAL_SECONDS = 20.0
DEADLINE = 900.0


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def first_run_environment(data_dir: Path) -> dict[str, str]:
    """This environment without Discobot's settings or this checkout's virtualenv: `make run`
    must find the system's python3 and create the clone's own."""
    env = clean_environment(DATA_DIR=str(data_dir))
    venv = env.pop("VIRTUAL_ENV", "")
    own = str(ROOT / ".venv")
    path = [
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if not (venv and entry.startswith(venv)) and not entry.startswith(own)
    ]
    env["PATH"] = os.pathsep.join(path)
    return env


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """make, its shell, the server and the worker share the group `make` leads: all are asked to
    stop, then whatever is left (a worker restarting, a hung server) is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def first_run(work: Path) -> float:
    """Seconds from `git clone` to the first 200 of `/health`."""
    clone = work / "discobot"
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    env = first_run_environment(work / "data")
    log = work / "make-run.log"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    started = time.perf_counter()
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, capture_output=True
    )
    # A worktree's clone checks out the main repository's HEAD: this checkout's is wanted.
    subprocess.run(
        ["git", "-C", str(clone), "checkout", "--quiet", head], check=True, capture_output=True
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while not healthy(url):
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"make run exited ({process.returncode}):\n{tail}")
                if time.perf_counter() - started > DEADLINE:
                    raise TimeoutError(f"no /health answer within {DEADLINE:g} s")
                time.sleep(0.1)
            return time.perf_counter() - started
        finally:
            stop_group(process)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="firstrun") as directory:
        seconds = first_run(Path(directory))
    print(f"fresh clone to /health: {seconds:.1f} s")
    emit(
        [
            Row(
                "first `make run` on a fresh clone to a /health answer (s)",
                seconds,
                None,
                f"<= {GOAL_SECONDS:g} s",
                seconds <= GOAL_SECONDS,
            )
        ]
    )


if __name__ == "__main__":
    main()
