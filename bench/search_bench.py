"""Figures for search: finding words among 100,000 stored chat messages on PostgreSQL, against
the same search as a plain `icontains` scan, in the same run.

    .venv/bin/python bench/search_bench.py [--messages 100000] [--sessions 200] [--searches 200]
                                          [--server postgres://postgres@127.0.0.1:5432]

Creates the database `discobot_searchbench` on the server (dropped at the end, whatever
happens), migrates it, and stores `--messages` messages of a few sentences each across
`--sessions` sessions of the `local` project, plus a tenth as many in another project (noise
that must never be read), spread over 90 days. Then runs `--searches` searches of varied words
(common, rare, two words) and reports p50/p95/p99:
- through the selector (`apps.search.selectors.project_search`, chat messages), against the
  same words matched with `icontains` (what the SQLite fallback does) and the same order and
  page;
- through the HTTP endpoint (Django's test client, anonymous mode, every kind).
Goal: p95 at most 100 ms through the selector, emitted as a row of bench/table.py (the other
percentiles are printed).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import Row, emit  # noqa: E402

DATABASE = "discobot_searchbench"
GOAL_MS = 100.0
COMMON = [
    "the",
    "build",
    "test",
    "deploy",
    "error",
    "file",
    "function",
    "change",
    "code",
    "run",
    "server",
    "update",
    "branch",
    "commit",
    "fix",
    "add",
    "remove",
    "check",
    "return",
    "value",
    "config",
    "user",
    "request",
    "response",
    "database",
    "query",
    "table",
    "index",
    "cache",
    "session",
    "project",
    "module",
    "import",
    "class",
    "method",
    "type",
    "string",
    "list",
    "error",
    "warning",
    "failed",
    "passed",
    "output",
    "input",
    "path",
    "line",
    "version",
    "package",
    "install",
    "script",
    "command",
    "terminal",
]
RARE = [
    "kubernetes",
    "terraform",
    "postgres",
    "redis",
    "nginx",
    "webpack",
    "pytest",
    "docker",
    "celery",
    "graphql",
    "oauth",
    "tokenizer",
    "migration",
    "rollback",
    "latency",
    "throughput",
    "deadlock",
    "segfault",
    "timeout",
    "handshake",
    "certificate",
    "dependency",
    "serializer",
    "middleware",
    "websocket",
    "scheduler",
    "backoff",
    "checksum",
    "regression",
    "benchmark",
    "flamegraph",
    "profiler",
    "allocator",
    "mutex",
    "semaphore",
    "tombstone",
    "shard",
]
FILLER = [
    "we",
    "should",
    "then",
    "it",
    "is",
    "a",
    "to",
    "of",
    "and",
    "in",
    "that",
    "this",
    "for",
    "with",
    "on",
    "as",
    "be",
    "at",
    "by",
    "from",
    "or",
    "an",
    "will",
    "can",
    "not",
    "but",
    "if",
    "so",
    "now",
    "also",
    "more",
    "just",
    "all",
    "when",
    "there",
    "here",
    "what",
    "which",
]


def sentence(rng: random.Random, vocabulary: list[str], weights: list[float]) -> str:
    words = rng.choices(vocabulary, weights, k=rng.randint(6, 16))
    return " ".join(words).capitalize() + "."


def text_maker(rng: random.Random) -> Callable[[], str]:
    # Zipf-like: a word's weight falls with its rank, so common words are very common and the
    # rare ones (and the made-up identifiers) are rare, as in real transcripts.
    identifiers = [f"{rng.choice(RARE)}_{n}" for n in range(3000)]
    vocabulary = FILLER + COMMON + RARE + identifiers
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(vocabulary))]
    return lambda: " ".join(sentence(rng, vocabulary, weights) for _ in range(rng.randint(2, 5)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def admin(server: str, statement: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    admin(args.server, f"DROP DATABASE IF EXISTS {DATABASE}")
    admin(args.server, f"CREATE DATABASE {DATABASE}")
    try:
        with tempfile.TemporaryDirectory(prefix="searchbench") as tmp:
            os.environ["DATABASE_URL"] = f"{args.server}/{DATABASE}"
            os.environ["DATA_DIR"] = tmp
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "discobot.settings")
            import django

            django.setup()
            try:
                report(args)
            finally:
                from django.db import connections

                connections.close_all()
    finally:
        admin(args.server, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def stored(args: argparse.Namespace) -> Any:
    """The messages, in bulk; returns the `local` project."""
    from django.core.management import call_command
    from django.db import connection

    from apps.chat.models import Message, MessageRole
    from apps.chat.uistream import searchable_text
    from apps.projects.models import Project
    from apps.workspaces.models import Session, Workspace

    call_command("migrate", verbosity=0)
    local = Project.objects.get(id="local")
    noise = Project.objects.create(id="noise", name="Noise")
    rng = random.Random(20261126)  # noqa: S311 (made-up text)
    make_text = text_maker(rng)
    sessions = []
    for project, count in ((local, args.sessions), (noise, max(1, args.sessions // 10))):
        workspace = Workspace.objects.create(project=project, path=f"/srv/{project.id}")
        sessions.append(
            Session.objects.bulk_create(
                Session(project=project, workspace=workspace, id=f"s{n}", name=f"Session {n}")
                for n in range(count)
            )
        )
    started = time.perf_counter()
    for project_sessions, total in (
        (sessions[0], args.messages),
        (sessions[1], args.messages // 10),
    ):
        batch = []
        for n in range(total):
            parts = [{"type": "text", "text": make_text(), "state": "done"}]
            batch.append(
                Message(
                    session=rng.choice(project_sessions),
                    message_id=f"m{n}",
                    role=rng.choice((MessageRole.USER, MessageRole.ASSISTANT)),
                    parts=parts,
                    search_text=searchable_text(parts),
                )
            )
            if len(batch) == 5000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE chat_message SET created_at = now() - random() * interval '90 days'")
        # As autovacuum would have by now: a planner without statistics on sessions loops
        # over them, reading the index once per session.
        cursor.execute("VACUUM ANALYZE")
    print(
        f"stored {Message.objects.count()} messages "
        f"({args.messages} searched, the rest noise) in {time.perf_counter() - started:.0f} s"
    )
    return local


def queries(args: argparse.Namespace) -> list[str]:
    rng = random.Random(7)  # noqa: S311 (made-up queries)
    made = []
    for n in range(args.searches):
        shape = n % 4
        if shape == 0:
            made.append(rng.choice(COMMON))
        elif shape == 1:
            made.append(rng.choice(RARE))
        elif shape == 2:
            made.append(f"{rng.choice(COMMON)} {rng.choice(RARE)}")
        else:
            made.append(f"{rng.choice(RARE)}_{rng.randrange(3000)}")
    return made


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def report(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client

    from apps.chat.models import Message
    from apps.search.selectors import SearchKind, kind_rows, project_search, query_words

    local = stored(args)
    searches = queries(args)

    def ours(text: str) -> list[Any]:
        return project_search(project=local, text=text, kinds={SearchKind.CHAT}, limit=20)[0]

    def scan(text: str) -> list[Any]:
        rows = Message.objects.filter(session__project=local)
        for word in query_words(text):
            rows = rows.filter(search_text__icontains=word)
        fields = ("pk", "created_at", "session__id", "message_id", "search_text")
        return list(rows.order_by("-created_at", "-pk").values(*fields)[:20])

    client = Client(HTTP_HOST="localhost")

    def http(text: str) -> None:
        response = client.get("/api/projects/local/search", {"q": text})
        assert response.status_code == 200, response.content

    for text in searches[:10]:  # warm-up: caches, connections
        ours(text)
        scan(text)
        http(text)
    found = [len(ours(text)) for text in searches]
    ours_ms = [timed(partial(ours, text)) for text in searches]
    scan_ms = [timed(partial(scan, text)) for text in searches]
    http_ms = [timed(partial(http, text)) for text in searches]

    for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        print(
            f"search {name}: selector {percentile(ours_ms, fraction):.1f} ms, icontains scan "
            f"{percentile(scan_ms, fraction):.1f} ms, HTTP (all kinds) "
            f"{percentile(http_ms, fraction):.1f} ms"
        )
    print(
        f"({len(searches)} searches of {len(set(searches))} queries; "
        f"{sum(1 for n in found if n == 20)} filled a page of 20, {found.count(0)} found nothing)"
    )
    for text in (searches[0], searches[1]):
        rows = kind_rows(SearchKind.CHAT, local, text)
        assert rows is not None
        plan = rows[:21].explain()
        used = "message_search_idx" in plan
        print(f"plan for {text!r} reads message_search_idx: {used}")
    assert connection.vendor == "postgresql"
    p95 = percentile(ours_ms, 0.95)
    emit(
        [
            Row(
                f"search p95 among {args.messages:,} messages, selector, PostgreSQL "
                "(ms; vs icontains scan)",
                p95,
                percentile(scan_ms, 0.95),
                f"<= {GOAL_MS:g} ms",
                p95 <= GOAL_MS,
            )
        ]
    )


if __name__ == "__main__":
    main()
