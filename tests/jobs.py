"""Running queued jobs inside a test, the way a worker does, without leaving the test's
transaction (the worker process itself is tested in tests/projects/test_worker.py)."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from apps.core.jobs import job_run
from apps.core.models import Job, JobStatus


def run_jobs(max_rounds: int = 20) -> int:
    """Runs every job that is ready, and those they queue; returns how many attempts ran."""
    ran = 0
    for _ in range(max_rounds):
        ready = Job.objects.filter(status=JobStatus.PENDING).filter(
            Q(run_after__isnull=True) | Q(run_after__lte=timezone.now())
        )
        ids = list(ready.order_by("created_at").values_list("id", flat=True))
        if not ids:
            break
        for job_id in ids:
            job_run(job_id=str(job_id), worker_id="test-worker")
            ran += 1
    return ran
