"""What the projects app hears from the platform (connected in `ProjectsConfig.ready`)."""

from __future__ import annotations

from typing import Any

from apps.core.models import Job
from apps.projects.events import JobCompleted
from apps.projects.services import project_event_record


def job_finished_announce(
    sender: type[Job], *, job: Job, status: str, error: str, **_: Any
) -> None:
    """A job ended: its project's clients hear `job_completed`, in the same transaction."""
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
