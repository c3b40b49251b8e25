"""Figure for limits: what checking a turn's limits costs per streamed chunk.

    .venv/bin/python bench/limits_bench.py [--chunks 20000] [--every 0.0005]

A turn answering to six limits (the project's and the member's, of tokens, cost and turns) is
admitted on a new database (DATABASE_URL, else a SQLite file in a temporary folder), then
streams `--chunks` text deltas on an event loop, one every `--every` seconds, as the agent's
step spends them (TurnBudget.output: the in-memory check, and a sync scheduled off the loop
when one is due — the syncs themselves run in threads, as they do in a turn). Prints the
per-chunk p50 and how many syncs ran, and emits the p99 in milliseconds against the goal
(≤ 0.2 ms) as a row of bench/table.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = tempfile.mkdtemp(prefix="limits-bench-")
os.environ.setdefault("DATA_DIR", DATA)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.core.streams import off_loop  # noqa: E402
from apps.limits.budget import TurnBudget, turn_budget_open  # noqa: E402
from apps.limits.models import Limit  # noqa: E402
from apps.limits.services import turn_admit  # noqa: E402
from apps.projects.models import Project, ProjectMember, Role  # noqa: E402
from bench.table import Row, emit  # noqa: E402

GOAL_MS = 0.2
LIMITS = (("tokens", "day", 10**12), ("cost", "month", 10**9), ("turns", "minute", 10**6))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def turn_setup() -> tuple[Project, User]:
    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com", password=None)
    project = Project.objects.create(name="Bench", slug=f"bench-{time.time_ns()}")
    ProjectMember.objects.create(project=project, user=user, role=Role.MEMBER)
    for metric, window, amount in LIMITS:
        for who in (None, user):
            Limit.objects.create(
                project=project, user=who, metric=metric, window=window, amount=Decimal(amount)
            )
    turn_admit(project=project, user=user)
    return project, user


async def stream(budget: TurnBudget, chunks: int, every: float) -> list[float]:
    budget.prices = (3e-6, 15e-6)
    budget.step_begin(2000)
    timings = []
    syncs: set[asyncio.Task[None]] = set()
    for index in range(chunks):
        started = time.perf_counter()
        budget.output(f"word{index} ")
        timings.append(time.perf_counter() - started)
        if budget.syncing is not None:
            syncs.add(budget.syncing)
        await asyncio.sleep(every)
    await budget.close()
    print(f"({chunks} chunks, {len(syncs)} syncs to the counters while streaming)")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--every", type=float, default=0.0005)
    arguments = parser.parse_args()
    project, user = turn_setup()

    async def run() -> list[float]:
        budget = await off_loop(turn_budget_open)(project_id=project.pk, user_id=user.pk)
        assert len(budget.limits) == len(LIMITS) * 2
        return await stream(budget, arguments.chunks, arguments.every)

    timings = asyncio.run(run())
    ms = 1000.0
    p50, p99 = statistics.median(timings) * ms, percentile(timings, 0.99) * ms
    print(f"limit check per chunk: p50 {p50:.4f} ms")
    database = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    emit(
        [
            # In microseconds: the table prints one decimal.
            Row(
                f"limit check per streamed chunk, six limits, p99, {database} (µs)",
                p99 * 1000,
                None,
                f"<= {GOAL_MS * 1000:g} µs",
                p99 <= GOAL_MS,
            )
        ]
    )


if __name__ == "__main__":
    main()
