"""Every bench in one run, one table: what `make bench` runs.

    .venv/bin/python bench/all.py [--only NAME[,NAME]] [--quick] [--write docs/benchmarks.md]

Runs each bench below as its own process (its output streamed here), on SQLite and, for the
figures asked on PostgreSQL, again with DATABASE_URL naming the `discobot_bench` database
(created if missing; the benches serve fresh databases of their own on that server). Each bench
appends its rows to a file named by BENCH_ROWS (bench/table.py); the rows of every run are then
printed as one table. A bench whose file is missing is skipped with a note; one that fails or
emits no row prints the tail of its output and counts as a failed row, and the run goes on.
`--quick` passes smaller sizes (a smoke run, not figures). `--write PATH` also writes the table
with the machine, date, commit and command under the hand-written introduction of PATH.
Exits 1 when any row fails.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import Row, format_table, load, summary  # noqa: E402

POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
POSTGRES_URL = f"{POSTGRES_SERVER}/discobot_bench"
# Generous: the full terminal and chat runs take minutes on two cores; only a hung bench hits it.
BENCH_TIMEOUT = 3600.0
TAIL_LINES = 40
MARKER = "<!-- bench/all.py writes everything below this line. -->"
INTRO = """# Benchmarks

The latest `make bench` table: every figure of issue 16 against its baseline, measured in the
same run on loopback (`bench/all.py` runs the benches in `bench/`; each one's docstring says what
it measures and against what). A ratio is ours over the baseline; a goal without a baseline is
absolute. Figures from a shared or busy machine are noisy: compare runs of one machine.
"""


@dataclass(frozen=True)
class Bench:
    name: str
    file: str
    quick: tuple[str, ...] = ()
    # "sqlite" and/or "postgres": the databases the figures are asked on.
    databases: tuple[str, ...] = ("sqlite",)


BENCHES = (
    # Runs on SQLite and PostgreSQL itself (databases of its own); its figures name which.
    Bench("rest", "rest_bench.py", ("--seconds", "3", "--rounds", "1")),
    Bench(
        "event_streams",
        "event_streams_bench.py",
        ("--streams", "100", "--events", "2"),
        databases=("sqlite", "postgres"),
    ),
    Bench("terminal", "terminal_bench.py", ("--idle", "20", "--active", "4", "--keystrokes", "40")),
    Bench("chat", "chat_bench.py", ("--rounds", "5", "--concurrent", "5", "--chunks", "200")),
    Bench("git", "git_bench.py", ("--files", "1000", "--requests", "10")),
    Bench("first_run", "first_run_bench.py"),
    Bench("limits", "limits_bench.py", ("--chunks", "2000")),
    # Makes and drops a database of its own on the PostgreSQL server.
    Bench("search", "search_bench.py", ("--messages", "5000", "--searches", "40"), ("postgres",)),
)
DATABASE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def postgres_database_ensure() -> str | None:
    """Creates `discobot_bench` if missing; the reason when PostgreSQL cannot be used."""
    name = POSTGRES_URL.rsplit("/", 1)[1]
    try:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if found is None:
                connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES_SERVER} is not available: {error}".strip()
    return None


def bench_environment(database: str, rows_file: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database == "postgres":
        env["DATABASE_URL"] = POSTGRES_URL
    env["BENCH_ROWS"] = str(rows_file)
    env["PYTHONUNBUFFERED"] = "1"  # its output shows as it comes
    return env


def group_kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def bench_run(command: list[str], env: dict[str, str], label: str) -> tuple[int, list[str]]:
    """Runs one bench in a process group of its own, streaming its output; returns its exit
    status and the tail of its output. The group is killed at the end, so that a server or
    worker a failed bench left behind does not load the next one."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    timer = threading.Timer(BENCH_TIMEOUT, group_kill, (process.pid,))
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(f"[{label}] {line}", end="", flush=True)
            tail.append(line.rstrip("\n"))
        status = process.wait()
    finally:
        timer.cancel()
        group_kill(process.pid)
        process.wait()
    return status, list(tail)


def labelled(row: Row, database: str) -> Row:
    """Names the database in the figure of a bench run on several, unless the bench did."""
    name = DATABASE_NAMES[database]
    if name in row.figure:
        return row
    return Row(f"{row.figure}, {name}", row.ours, row.baseline, row.goal, row.passed)


def run_all(benches: list[Bench], quick: bool, work: Path) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    postgres_problem: str | None = None
    if any("postgres" in bench.databases for bench in benches):
        postgres_problem = postgres_database_ensure()
    for bench in benches:
        path = ROOT / "bench" / bench.file
        if not path.exists():
            note = f"bench/{bench.file} is missing: {bench.name} skipped"
            print(note, flush=True)
            notes.append(note)
            continue
        for database in bench.databases:
            suffix = f", {DATABASE_NAMES[database]}" if len(bench.databases) > 1 else ""
            label = f"{bench.name}{suffix}"
            if database == "postgres" and postgres_problem:
                rows.append(Row(f"{label}: bench ran (PostgreSQL)", 0, None, "runs", False))
                notes.append(f"{label} not run: {postgres_problem}")
                print(notes[-1], flush=True)
                continue
            rows_file = work / f"{bench.name}-{database}.jsonl"
            rows_file.touch()
            command = [sys.executable, str(path), *(bench.quick if quick else ())]
            print(f"== {label}: {' '.join(command[1:])}", flush=True)
            status, tail = bench_run(command, bench_environment(database, rows_file), label)
            emitted = load(str(rows_file))
            if len(bench.databases) > 1:
                emitted = [labelled(row, database) for row in emitted]
            rows += emitted
            if status != 0 or not emitted:
                print(f"== {label} failed (exit status {status}); the end of its output:")
                print("\n".join(f"   {line}" for line in tail), flush=True)
                rows.append(
                    Row(f"{label}: bench ran to the end (exit status)", status, None, "0", False)
                )
    return rows, notes


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if ":" in line and line.startswith("model name")
        ),
        "unknown CPU",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2
    return f"{os.cpu_count()} CPUs ({model}), {memory_gib:.0f} GiB of memory"


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} (with uncommitted changes)" if changed else head


def document_write(path: Path, rows: list[Row], notes: list[str], argv: list[str]) -> None:
    """The table under the file's hand-written introduction (everything above MARKER)."""
    intro = INTRO
    if path.exists():
        intro = path.read_text().split(MARKER, 1)[0]
    lines = [
        intro.rstrip("\n"),
        "",
        MARKER,
        "",
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC",
        f"- Commit: {commit()}",
        f"- Command: `{' '.join(['.venv/bin/python', 'bench/all.py', *argv])}`",
        f"- {summary(rows)}",
        "",
        format_table(rows),
        "",
    ]
    lines[-1:-1] = [f"Note: {note}" for note in notes] + ([""] if notes else [])
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default="",
        help="benches to run, comma-separated: " + ",".join(bench.name for bench in BENCHES),
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument("--write", type=Path, help="also write the table to this file")
    arguments = parser.parse_args()
    benches = list(BENCHES)
    if arguments.only:
        wanted = {name.strip() for name in arguments.only.split(",") if name.strip()}
        unknown = wanted - {bench.name for bench in BENCHES}
        if unknown:
            parser.error(f"unknown bench: {', '.join(sorted(unknown))}")
        benches = [bench for bench in BENCHES if bench.name in wanted]
    with tempfile.TemporaryDirectory(prefix="bench-rows") as directory:
        rows, notes = run_all(benches, arguments.quick, Path(directory))
    print("\n" + format_table(rows))
    for note in notes:
        print(f"Note: {note}")
    print(summary(rows), flush=True)
    if arguments.write:
        document_write(arguments.write, rows, notes, sys.argv[1:])
        print(f"written to {arguments.write}")
    sys.exit(1 if any(row.passed is False for row in rows) else 0)


if __name__ == "__main__":
    main()
