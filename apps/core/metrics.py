"""The job queue in /metrics, read from the database at each scrape (any process has it)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from apps.core.models import Job, JobStatus
from discobot.metrics import metrics_collector


@metrics_collector
def job_queue_metrics() -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "discobot_jobs", "Jobs waiting for or held by a worker, by status", labels=["status"]
    )
    counts = dict(
        Job.objects.filter(status__in=(JobStatus.PENDING, JobStatus.RUNNING))
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for status in (JobStatus.PENDING, JobStatus.RUNNING):
        jobs.add_metric([status.value], counts.get(status, 0))
    yield jobs
    now = timezone.now()
    # A job waits from when it may run: a retry's backoff is not time spent waiting.
    oldest = (
        Job.objects.filter(status=JobStatus.PENDING)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .aggregate(since=Min(Coalesce("run_after", "created_at")))["since"]
    )
    yield GaugeMetricFamily(
        "discobot_job_oldest_pending_age_seconds",
        "How long the longest-waiting runnable job has waited (0: none waits)",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )
