"""Background jobs: persisted, retried with backoff, recovered when their worker dies.

Each attempt runs as one django-tasks task (`run_job`) on the database backend; django-tasks-db
hands a task to exactly one worker. On top of it the `Job` row adds what the library lacks:
a bounded number of attempts with backoff, a lease renewed while an attempt runs (so a killed
worker's job is found and run again), and a `job_finished` signal when the job ends (the
projects app turns it into the project's `job_completed` event).

Job types are registered by the app that owns them (`@job_handler("session_init")`); a handler
may be a plain function or a coroutine function.

A worker outlives its database: every read and write of its loop waits out an outage (capped
exponential backoff, logged once), and an outage never costs a job an attempt.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TypeVar, cast

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

from apps.core.database import (
    DATABASE_OUTAGE,
    DATABASE_UNAVAILABLE,
    Backoff,
    database_connection_lost,
    database_retry,
    database_unavailable,
)
from apps.core.models import Job, JobStatus
from discobot.logs import request_id, request_id_bound
from discobot.readiness import readiness_check

logger = logging.getLogger(__name__)

WORKER_DIED = "The worker running this job stopped before it finished"

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


# Sent inside the transaction that ends a job (completed, or failed for good), with `job`,
# `status` and `error`: what a receiver records commits with the job's outcome, or not at all.
job_finished = Signal()

JobRun = Callable[[Job], None] | Callable[[Job], Awaitable[None]]
Run = TypeVar("Run", bound=JobRun)


@dataclass(frozen=True)
class JobHandler:
    run: Callable[[Job], None]
    # Called once when the last attempt failed, to put the resource into its error state.
    on_failure: Callable[[Job], None] | None = None


JOB_HANDLERS: dict[str, JobHandler] = {}


class JobTypeUnknown(LookupError):
    """No handler is registered for the job type: a programming error, not bad input."""


def sync_run(run: JobRun) -> Callable[[Job], None]:
    """`run` as a plain function; a coroutine function runs in its own event loop, and its
    `sync_to_async` database calls come back to the worker's thread (and its transaction)."""
    if inspect.iscoroutinefunction(run):
        return cast(Callable[[Job], None], async_to_sync(run))
    return cast(Callable[[Job], None], run)


def job_handler(job_type: str, *, on_failure: JobRun | None = None) -> Callable[[Run], Run]:
    """Registers the function that runs jobs of `job_type` (sync or async)."""

    def register(run: Run) -> Run:
        JOB_HANDLERS[job_type] = JobHandler(
            run=sync_run(run), on_failure=sync_run(on_failure) if on_failure else None
        )
        return run

    return register


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_enqueue(*, project_id: str, type: str, resource_type: str, resource_id: str) -> Job:
    """Persists a job and queues its first attempt, in the caller's transaction (no savepoint:
    a failure here fails the caller's whole write)."""
    if type not in JOB_HANDLERS:
        raise JobTypeUnknown(f"No job handler is registered for job type {type!r}")
    with transaction.atomic(savepoint=False):
        job = Job.objects.create(
            project_id=project_id,
            type=type,
            resource_type=resource_type,
            resource_id=resource_id,
            max_attempts=settings.JOB_MAX_ATTEMPTS,
            request_id=request_id.get() or "",
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
        with request_id_bound(job.request_id):
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
    logger.info("job %s (%s) attempt %s started", job.id, job.type, job.attempts)
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
    job_finished.send(sender=Job, job=job, status=status, error=error)


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
