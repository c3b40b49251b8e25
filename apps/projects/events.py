"""The events a project's stream carries (contract §6), each declared once with its payload,
and the log they are kept in.

Writers build one of these and hand it to `project_event_record`; the stream sends `data()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NotRequired, TypedDict

from django.conf import settings

from apps.core.streams import sse_frame
from apps.projects.models import Project, ProjectEvent


class WorkspaceUpdatedData(TypedDict):
    workspaceId: str
    status: str
    progress: NotRequired[dict[str, Any]]


class SessionUpdatedData(TypedDict):
    sessionId: str
    status: str
    commitStatus: NotRequired[str]
    progress: NotRequired[dict[str, Any]]


class JobCompletedData(TypedDict):
    jobId: str
    jobType: str
    resourceType: str
    resourceId: str
    status: str
    error: NotRequired[str]


@dataclass(frozen=True)
class WorkspaceUpdated:
    """A workspace changed status, or was removed (`status` "removed")."""

    type: ClassVar[str] = "workspace_updated"
    workspace_id: str
    status: str
    progress: dict[str, Any] | None = None  # while a clone downloads

    def data(self) -> WorkspaceUpdatedData:
        data: WorkspaceUpdatedData = {"workspaceId": self.workspace_id, "status": self.status}
        if self.progress is not None:
            data["progress"] = self.progress
        return data


@dataclass(frozen=True)
class SessionUpdated:
    """A session changed status or commit status, or was removed (`status` "removed")."""

    type: ClassVar[str] = "session_updated"
    session_id: str
    status: str
    commit_status: str | None = None
    progress: dict[str, Any] | None = None  # while it is set up

    def data(self) -> SessionUpdatedData:
        data: SessionUpdatedData = {"sessionId": self.session_id, "status": self.status}
        if self.commit_status is not None:
            data["commitStatus"] = self.commit_status
        if self.progress is not None:
            data["progress"] = self.progress
        return data


@dataclass(frozen=True)
class JobCompleted:
    """A background job ended, completed or failed (with its error)."""

    type: ClassVar[str] = "job_completed"
    job_id: str
    job_type: str
    resource_type: str
    resource_id: str
    status: str
    error: str = ""

    def data(self) -> JobCompletedData:
        data: JobCompletedData = {
            "jobId": self.job_id,
            "jobType": self.job_type,
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "status": self.status,
        }
        if self.error:
            data["error"] = self.error
        return data


ProjectEventData = WorkspaceUpdated | SessionUpdated | JobCompleted
EVENT_TYPES = tuple(kind.type for kind in (WorkspaceUpdated, SessionUpdated, JobCompleted))


def event_payload(event: ProjectEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "seq": event.seq,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": event.data,
    }


@dataclass(frozen=True)
class ProjectEventLog:
    """A project's events as the durable log its event streams follow (`apps.core.streams`)."""

    project_id: str

    @property
    def group(self) -> str:
        return project_events_group(self.project_id)

    def after(self, seq: int, limit: int) -> list[ProjectEvent]:
        return list(
            ProjectEvent.objects.filter(project_id=self.project_id, seq__gt=seq).order_by("seq")[
                :limit
            ]
        )

    def last_seq(self) -> int | None:
        return (
            Project.objects.filter(id=self.project_id)
            .values_list("last_event_seq", flat=True)
            .first()
        )

    def seq_of(self, entry: ProjectEvent) -> int:
        return entry.seq

    def frame(self, entry: ProjectEvent) -> str:
        return sse_frame(entry.type, event_payload(entry), entry.seq)

    @property
    def poll_seconds(self) -> float:
        return float(settings.EVENTS_POLL_SECONDS)


def project_events_group(project_id: str) -> str:
    """The channel-layer group a project's event streams listen on."""
    return f"project-events.{project_id}"
