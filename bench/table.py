"""One table for every bench: figure, ours, baseline, ratio, goal, pass.

A bench builds `Row`s and calls `emit(rows)`: the rows are printed, and when `BENCH_ROWS` names a
file (as `make bench` does) they are also appended to it as JSON lines, so that one run of every
bench ends in one table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    ours: float
    # What the same work costs without Discobot, measured in the same run (None: an absolute goal).
    baseline: float | None
    goal: str
    # None: a figure shown beside a goal's (a p99 where only the rate is asked), with none of
    # its own.
    passed: bool | None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.ours / self.baseline if self.baseline else float("inf")


def format_table(rows: Iterable[Row]) -> str:
    lines = ["| figure | ours | baseline | ratio | goal | pass |", "|---|---:|---:|---:|---|---|"]
    for row in rows:
        baseline = "" if row.baseline is None else f"{row.baseline:,.1f}"
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        verdict = {True: "pass", False: "**FAIL**", None: "shown"}[row.passed]
        lines.append(
            f"| {row.figure} | {row.ours:,.1f} | {baseline} | {ratio} | {row.goal} | {verdict} |"
        )
    return "\n".join(lines)


def emit(rows: list[Row]) -> None:
    print(format_table(rows), flush=True)
    path = os.environ.get("BENCH_ROWS")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(asdict(row)) + "\n")


def summary(rows: list[Row]) -> str:
    goals = [row for row in rows if row.passed is not None]
    return f"{sum(bool(row.passed) for row in goals)} of {len(goals)} rows with a goal pass."


def load(path: str) -> list[Row]:
    with open(path, encoding="utf-8") as rows:
        return [Row(**json.loads(line)) for line in rows if line.strip()]
