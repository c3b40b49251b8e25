"""`make bench`'s runner (bench/all.py), run as `make bench` runs it, on one fast bench: it must
keep printing one table with the bench's rows, and write it under the hand-written part of the
file it keeps."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.all import MARKER
from bench.table import Row, format_table, summary

ROOT = Path(__file__).resolve().parent.parent.parent
TABLE_HEADER = "| figure | ours | baseline | ratio | goal | pass |"


def bench_all(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/all.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_run_of_one_bench_prints_its_rows_and_rewrites_the_table_under_the_intro(tmp_path):
    written = tmp_path / "benchmarks.md"
    written.write_text(f"# Benchmarks\n\nWritten by hand.\n\n{MARKER}\n\n| an old table |\n")

    run = bench_all("--quick", "--only", "limits", "--write", str(written))

    combined = run.stdout.rsplit(TABLE_HEADER, 1)[-1]
    figures = [line for line in combined.splitlines() if line.startswith("| limit check")]
    assert len(figures) == 1, run.stdout + run.stderr
    assert "bench ran to the end" not in run.stdout
    assert re.search(r"^[01] of 1 rows with a goal pass\.$", run.stdout, re.MULTILINE), run.stdout

    document = written.read_text()
    assert document.startswith(f"# Benchmarks\n\nWritten by hand.\n\n{MARKER}\n")
    assert "an old table" not in document
    assert document.count(TABLE_HEADER) == 1
    assert figures[0] in document
    assert "- Machine: " in document
    assert "- Commit: " in document


def test_an_unknown_bench_is_refused():
    run = bench_all("--only", "no_such_bench")

    assert run.returncode == 2
    assert "unknown bench: no_such_bench" in run.stderr


def test_a_figure_shown_beside_a_goal_is_neither_passed_nor_failed():
    rows = [
        Row("rate", 2.0, 1.0, ">= 1.5x", True),
        Row("p99 ms", 30.0, 20.0, "", None),
        Row("other rate", 1.0, 1.0, ">= 1.5x", False),
    ]

    assert [line.rsplit("|", 2)[1].strip() for line in format_table(rows).splitlines()[2:]] == [
        "pass",
        "shown",
        "**FAIL**",
    ]
    assert summary(rows) == "1 of 2 rows with a goal pass."
