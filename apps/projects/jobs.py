"""Background jobs: persisted, retried with backoff, recovered when their worker dies.

Each attempt runs as one django-tasks task (`run_job`) on the database backend; django-tasks-db
hands a task to exactly one worker. On top of it the `Job` row adds what the library lacks:
a bounded number of attempts with backoff, a lease renewed while an attempt runs (so a killed
worker's job is found and run again), and a `job_completed` event when the job ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from apps.projects.models import Job, JobStatus, JobType
from apps.projects.services import project_event_record

logger = logging.getLogger(__name__)

WORKER_DIED = "The worker running this job stopped before it finished"


class JobDeferred(Exception):
    """Raised by a handler whose resource is not ready yet: run again later, no attempt used."""

    def __init__(self, reason: str, *, delay_seconds: float = 1.0) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class JobFailed(Exception):
    """Raised by a handler when trying again cannot help: the job fails at once."""


@dataclass(frozen=True)
class JobHandler:
    run: Callable[[Job], None]
    # Called once when the last attempt failed, to put the resource into its error state.
    on_failure: Callable[[Job], None] | None = None


JOB_HANDLERS: dict[str, JobHandler] = {}


def job_handler(
    job_type: JobType, *, on_failure: Callable[[Job], None] | None = None
) -> Callable[[Callable[[Job], None]], Callable[[Job], None]]:
    def register(run: Callable[[Job], None]) -> Callable[[Job], None]:
        JOB_HANDLERS[job_type] = JobHandler(run=run, on_failure=on_failure)
        return run

    return register


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_enqueue(*, project_id: str, type: JobType, resource_type: str, resource_id: str) -> Job:
    """Persists a job and queues its first attempt, in the caller's transaction."""
    with transaction.atomic():
        job = Job.objects.create(
            project_id=project_id,
            type=type,
            resource_type=resource_type,
            resource_id=resource_id,
            max_attempts=settings.JOB_MAX_ATTEMPTS,
        )
        run_job.enqueue(job_id=str(job.id))
    return job


def job_pending_exists(*, type: JobType, resource_id: str) -> bool:
    return Job.objects.filter(
        type=type, resource_id=resource_id, status__in=(JobStatus.PENDING, JobStatus.RUNNING)
    ).exists()


@task()
def run_job(job_id: str) -> None:
    job_run(job_id=job_id, worker_id=worker_name())


def job_run(*, job_id: str, worker_id: str) -> None:
    """Runs one attempt of a job, unless another worker already took it."""
    now = timezone.now()
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    claimed = Job.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_expires_at=now + lease,
        worker_id=worker_id,
    )
    if not claimed:
        return
    job = Job.objects.get(id=job_id)
    try:
        with lease_renewed(job.id, worker_id):
            JOB_HANDLERS[job.type].run(job)
    except JobDeferred as deferred:
        job_defer(job=job, delay_seconds=deferred.delay_seconds, worker_id=worker_id)
    except Exception as error:
        logger.warning("job %s (%s) attempt %s failed: %s", job.id, job.type, job.attempts, error)
        job_attempt_failed(
            job=job,
            error=str(error) or type(error).__name__,
            worker_id=worker_id,
            retry=not isinstance(error, JobFailed),
        )
    else:
        job_finish(job=job, status=JobStatus.COMPLETED, worker_id=worker_id)


@contextmanager
def lease_renewed(job_id: uuid.UUID, worker_id: str) -> Iterator[None]:
    """Keeps the running attempt's lease fresh until the block ends, however it ends."""
    stop = threading.Event()
    renewer = threading.Thread(target=lease_renew, args=(job_id, worker_id, stop), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def lease_renew(job_id: uuid.UUID, worker_id: str, stop: threading.Event) -> None:
    interval = settings.JOB_LEASE_SECONDS / 3
    try:
        while not stop.wait(interval):
            Job.objects.filter(id=job_id, status=JobStatus.RUNNING, worker_id=worker_id).update(
                lease_expires_at=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
            )
    finally:
        close_old_connections()


@transaction.atomic
def job_defer(*, job: Job, delay_seconds: float, worker_id: str) -> None:
    run_after = timezone.now() + timedelta(seconds=delay_seconds)
    deferred = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, worker_id=worker_id).update(
        status=JobStatus.PENDING,
        attempts=F("attempts") - 1,
        run_after=run_after,
        lease_expires_at=None,
    )
    if deferred:
        run_job.using(run_after=run_after).enqueue(job_id=str(job.id))


def job_attempt_failed(*, job: Job, error: str, worker_id: str, retry: bool = True) -> None:
    """Schedules the next attempt after a backoff, or ends the job as failed."""
    if retry and job.attempts < job.max_attempts:
        run_after = timezone.now() + timedelta(
            seconds=settings.JOB_RETRY_BACKOFF_SECONDS * job.attempts
        )
        with transaction.atomic():
            retried = Job.objects.filter(
                id=job.id, status=JobStatus.RUNNING, worker_id=worker_id
            ).update(
                status=JobStatus.PENDING, error=error, run_after=run_after, lease_expires_at=None
            )
            if retried:
                run_job.using(run_after=run_after).enqueue(job_id=str(job.id))
        return
    job.error = error
    handler = JOB_HANDLERS.get(job.type)
    if handler is not None and handler.on_failure is not None:
        handler.on_failure(job)
    job_finish(job=job, status=JobStatus.FAILED, worker_id=worker_id, error=error)


@transaction.atomic
def job_finish(*, job: Job, status: JobStatus, worker_id: str, error: str = "") -> None:
    finished = Job.objects.filter(id=job.id, status=JobStatus.RUNNING, worker_id=worker_id).update(
        status=status, error=error, finished_at=timezone.now(), lease_expires_at=None
    )
    if not finished:
        return  # recovery already took this attempt over
    data = {
        "jobId": str(job.id),
        "jobType": job.type,
        "resourceType": job.resource_type,
        "resourceId": job.resource_id,
        "status": status,
    }
    if error:
        data["error"] = error
    project_event_record(project_id=job.project_id, type="job_completed", data=data)


def jobs_recover_stale() -> int:
    """Treats every running job whose lease ran out as a failed attempt; returns how many."""
    recovered = 0
    stale = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now())
    for job in stale:
        logger.warning("recovering job %s (%s) from worker %s", job.id, job.type, job.worker_id)
        job_attempt_failed(job=job, error=WORKER_DIED, worker_id=job.worker_id)
        recovered += 1
    return recovered
