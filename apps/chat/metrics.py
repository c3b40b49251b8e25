"""Chat turns and their tokens in /metrics, read from the database at each scrape: the workers
run the turns, and any web process's scrape has them all. Deleting a session's turns (or a
project) lowers the turn counts, which Prometheus reads as a counter reset."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric

from apps.chat.models import TURN_ACTIVE, ChatTurn, TurnStatus, TurnUsage
from discobot.metrics import metrics_collector

TOKEN_KINDS = ("input", "output", "cached", "reasoning")


@metrics_collector
def chat_metrics() -> Iterator[Metric]:
    turns = CounterMetricFamily(
        "discobot_chat_turns", "Chat turns ended, by how they ended", labels=["status"]
    )
    ended = [status for status in TurnStatus if status not in TURN_ACTIVE]
    counts = dict(
        ChatTurn.objects.filter(status__in=ended)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for status in ended:
        turns.add_metric([status.value], counts.get(status, 0))
    yield turns
    tokens = CounterMetricFamily(
        "discobot_chat_tokens", "Tokens the agent's turns used, by kind", labels=["kind"]
    )
    sums = TurnUsage.objects.aggregate(
        **{kind: Sum(f"{kind}_tokens", default=0) for kind in TOKEN_KINDS}
    )
    for kind in TOKEN_KINDS:
        tokens.add_metric([kind], sums[kind])
    yield tokens
