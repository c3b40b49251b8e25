"""Background jobs: persisted, retried with backoff, recovered when their worker dies.

Each attempt runs as one django-tasks task (`run_job`) on the database backend; django-tasks-db
hands a task to exactly one worker. On top of it the `Job` row adds what the library lacks:
a bounded number of attempts with backoff, a lease renewed while an attempt runs (so a killed
worker's job is found and run again), and a `job_completed` event when the job ends.

A worker outlives its database: every read and write of its loop waits out an outage (capped
exponential backoff, logged once), and an outage never costs a job an attempt.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

from apps.projects.events import JobCompleted
from apps.projects.models import Job, JobStatus, JobType
from apps.projects.services import project_event_record
from discobot.outages import DependencyOutage
from discobot.readiness import readiness_check

logger = logging.getLogger(__name__)

T = TypeVar("T")

WORKER_DIED = "The worker running this job stopped before it finished"

# What a database that went away (restarted, refused, out of connections) raises.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
DATABASE_OUTAGE = DependencyOutage("database", "retrying with backoff")
FIRST_RETRY_SECONDS = 0.5

# Jobs this process is running now: recovery must not take them over while an outage kept
# their leases from being renewed.
RUNNING_JOBS: set[uuid.UUID] = set()


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


class Backoff:
    """Capped exponential backoff with jitter, so that workers do not retry in step."""

    def __init__(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(settings.DATABASE_RETRY_MAX_SECONDS, FIRST_RETRY_SECONDS * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)  # noqa: S311 (not cryptography)

    def reset(self) -> None:
        self.failures = 0


def database_unavailable(error: BaseException) -> None:
    """Notes the outage and drops this thread's connection, which a lost server left broken."""
    DATABASE_OUTAGE.failed(error)
    with suppress(DatabaseError):
        connection.close()


def database_retry(operation: Callable[[], T]) -> T:
    """Runs `operation` until the database answers; it must be safe to run again."""
    backoff = Backoff()
    while True:
        try:
            result = operation()
        except DATABASE_UNAVAILABLE as error:
            database_unavailable(error)
            time.sleep(backoff.next_delay())
        else:
            DATABASE_OUTAGE.recovered()
            return result


def database_connection_lost() -> bool:
    """After a database error: whether the server went away, rather than the query failing."""
    return connection.connection is None or not connection.is_usable()


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


@task()
def run_job(job_id: str) -> None:
    job_run(job_id=job_id, worker_id=worker_name())


def job_run(*, job_id: str, worker_id: str) -> None:
    """Runs one attempt of a job, unless another worker already took it.

    Claiming the job and recording the outcome wait out a database outage, and a handler that
    failed because the database went away is deferred: the outage costs no attempt.
    """
    job = database_retry(partial(job_claim, job_id=job_id, worker_id=worker_id))
    if job is None:
        return
    RUNNING_JOBS.add(job.id)
    try:
        database_retry(job_attempt(job=job, worker_id=worker_id))
    finally:
        RUNNING_JOBS.discard(job.id)


def job_claim(*, job_id: str, worker_id: str) -> Job | None:
    """Marks the job running under this worker; None when another worker already took it."""
    now = timezone.now()
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    claimed = Job.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_expires_at=now + lease,
        worker_id=worker_id,
    )
    return Job.objects.get(id=job_id) if claimed else None


def job_attempt(*, job: Job, worker_id: str) -> Callable[[], None]:
    """Runs the job's handler; returns how to record the outcome."""
    try:
        with lease_renewed(job.id, worker_id):
            JOB_HANDLERS[job.type].run(job)
    except JobDeferred as deferred:
        return partial(
            job_defer, job=job, delay_seconds=deferred.delay_seconds, worker_id=worker_id
        )
    except DATABASE_UNAVAILABLE as error:
        if not database_connection_lost():
            return job_failure(job=job, error=error, worker_id=worker_id)
        database_unavailable(error)
        logger.warning("job %s (%s) waits for the database; no attempt used", job.id, job.type)
        return partial(job_defer, job=job, delay_seconds=0, worker_id=worker_id)
    except Exception as error:
        return job_failure(job=job, error=error, worker_id=worker_id)
    return partial(job_finish, job=job, status=JobStatus.COMPLETED, worker_id=worker_id)


def job_failure(*, job: Job, error: Exception, worker_id: str) -> Callable[[], None]:
    logger.warning("job %s (%s) attempt %s failed: %s", job.id, job.type, job.attempts, error)
    return partial(
        job_attempt_failed,
        job=job,
        error=str(error) or type(error).__name__,
        worker_id=worker_id,
        retry=not isinstance(error, JobFailed),
    )


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
    backoff = Backoff()
    wait = interval
    try:
        while not stop.wait(wait):
            try:
                Job.objects.filter(id=job_id, status=JobStatus.RUNNING, worker_id=worker_id).update(
                    lease_expires_at=timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
                )
            except DATABASE_UNAVAILABLE as error:
                database_unavailable(error)
                # Renew as soon as the database is back, before another worker's recovery
                # mistakes this running job for an abandoned one.
                wait = min(interval, backoff.next_delay())
            else:
                DATABASE_OUTAGE.recovered()
                backoff.reset()
                wait = interval
    finally:
        with suppress(DatabaseError):
            connection.close()


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
    project_event_record(
        project_id=job.project_id,
        event=JobCompleted(
            job_id=str(job.id),
            job_type=job.type,
            resource_type=job.resource_type,
            resource_id=job.resource_id,
            status=status,
            error=error,
        ),
    )


def jobs_recover_stale() -> int:
    """Treats every running job whose lease ran out as a failed attempt; returns how many."""
    recovered = 0
    stale = Job.objects.filter(
        status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now()
    ).exclude(id__in=RUNNING_JOBS.copy())
    for job in stale:
        logger.warning("recovering job %s (%s) from worker %s", job.id, job.type, job.worker_id)
        job_attempt_failed(job=job, error=WORKER_DIED, worker_id=job.worker_id)
        recovered += 1
    return recovered


def worker_seen_recently() -> bool:
    """Whether a worker is taking jobs: none has waited WORKER_STALE_SECONDS for one, or some
    running job's lease is being renewed (a busy worker leaves the queue waiting)."""
    now = timezone.now()
    if Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__gt=now).exists():
        return True
    waiting_since = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    return not (
        DBTaskResult.objects.ready()
        .filter(enqueued_at__lt=waiting_since)
        .filter(Q(run_after=get_date_max()) | Q(run_after__lt=waiting_since))
        .exists()
    )


@readiness_check("worker")
def worker_readiness() -> dict[str, str]:
    if not worker_seen_recently():
        return {"status": "error", "error": "Jobs are waiting and no worker is taking them"}
    return {"status": "ok"}
