"""Jobs through the worker's path (`job_run`): sync and async handlers, and what a job's end
announces to its project."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.core.jobs import JobFailed, JobTypeUnknown, job_enqueue, job_handler
from apps.core.models import Job, JobStatus
from apps.projects.models import Project, ProjectEvent
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db

# What the handlers below saw, by job type.
handled: dict[str, list[str]] = {}


@job_handler("test_sync_job")
def sync_job(job: Job) -> None:
    handled.setdefault(job.type, []).append(Project.objects.get(id=job.project_id).name)


@job_handler("test_async_job")
async def async_job(job: Job) -> None:
    project = await sync_to_async(Project.objects.get)(id=job.project_id)
    handled.setdefault(job.type, []).append(project.name)


async def async_job_failed(job: Job) -> None:
    handled.setdefault("failed", []).append(job.error)


@job_handler("test_async_failing_job", on_failure=async_job_failed)
async def async_failing_job(job: Job) -> None:
    raise JobFailed("the resource is gone")


@pytest.fixture(autouse=True)
def nothing_handled() -> None:
    handled.clear()


def enqueue(project: Project, job_type: str) -> Job:
    return job_enqueue(
        project_id=project.id, type=job_type, resource_type="thing", resource_id="thing-1"
    )


@pytest.mark.parametrize("job_type", ["test_sync_job", "test_async_job"])
def test_a_sync_or_async_handler_runs_its_job_to_completion(
    project: Project, job_type: str
) -> None:
    job = enqueue(project, job_type)

    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)
    assert handled == {job_type: [project.name]}  # the handler read the database


def test_a_finished_job_is_announced_to_its_project(project: Project) -> None:
    job = enqueue(project, "test_async_job")

    run_jobs()

    event = ProjectEvent.objects.get(project=project, type="job_completed")
    assert event.data == {
        "jobId": str(job.id),
        "jobType": "test_async_job",
        "resourceType": "thing",
        "resourceId": "thing-1",
        "status": "completed",
    }


def test_an_async_failure_handler_runs_once_when_the_job_fails(project: Project) -> None:
    job = enqueue(project, "test_async_failing_job")

    run_jobs()

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == (JobStatus.FAILED, 1, "the resource is gone")
    assert handled == {"failed": ["the resource is gone"]}
    event = ProjectEvent.objects.get(project=project, type="job_completed")
    assert (event.data["status"], event.data["error"]) == ("failed", "the resource is gone")


def test_a_job_of_a_type_nobody_registered_is_refused(project: Project) -> None:
    with pytest.raises(JobTypeUnknown, match="no_such_job"):
        enqueue(project, "no_such_job")

    assert not Job.objects.exists()
