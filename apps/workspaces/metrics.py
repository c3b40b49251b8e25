"""Sandboxes in /metrics, read from the database at each scrape: a session that has had a
sandbox made, by the session's state (ready: running; stopped; error; or on its way up)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from apps.workspaces.models import Session, SessionStatus
from discobot.metrics import metrics_collector


@metrics_collector
def sandbox_metrics() -> Iterator[Metric]:
    sandboxes = GaugeMetricFamily(
        "discobot_sandboxes", "Sessions' sandboxes, by the session's state", labels=["state"]
    )
    counts = dict(
        Session.objects.exclude(sandbox_provider="")
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for status in SessionStatus:
        sandboxes.add_metric([status.value], counts.get(status, 0))
    yield sandboxes
