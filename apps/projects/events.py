"""The events a project's stream carries (contract §6), each declared once with its payload.

Writers build one of these and hand it to `project_event_record`; the stream sends `data()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NotRequired, TypedDict


class WorkspaceUpdatedData(TypedDict):
    workspaceId: str
    status: str


class SessionUpdatedData(TypedDict):
    sessionId: str
    status: str
    commitStatus: NotRequired[str]


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

    def data(self) -> WorkspaceUpdatedData:
        return {"workspaceId": self.workspace_id, "status": self.status}


@dataclass(frozen=True)
class SessionUpdated:
    """A session changed status or commit status, or was removed (`status` "removed")."""

    type: ClassVar[str] = "session_updated"
    session_id: str
    status: str
    commit_status: str | None = None

    def data(self) -> SessionUpdatedData:
        data: SessionUpdatedData = {"sessionId": self.session_id, "status": self.status}
        if self.commit_status is not None:
            data["commitStatus"] = self.commit_status
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
