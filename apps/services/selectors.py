from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from apps.services.definitions import SERVICE_ID_PATTERN, ServiceDefinition, definitions_read
from apps.services.models import ServiceRun, ServiceStatus
from apps.workspaces.models import Session
from discobot.errors import ApplicationError, NotFoundError

SERVICE_NOT_FOUND = "Service not found"


@dataclass(frozen=True)
class ServiceState:
    """A service as the list shows it: its definition and how its current run stands."""

    definition: ServiceDefinition
    status: str
    pid: int | None = None
    started_at: datetime | None = None
    exit_code: int | None = None


def session_definitions(session: Session) -> list[ServiceDefinition]:
    if not session.workspace_path:  # the working copy is not made yet
        return []
    return definitions_read(Path(session.workspace_path))


def service_definition_get(*, session: Session, service_id: str) -> ServiceDefinition:
    if SERVICE_ID_PATTERN.fullmatch(service_id):
        for definition in session_definitions(session):
            if definition.id == service_id:
                return definition
    raise NotFoundError(SERVICE_NOT_FOUND)


def service_runnable_get(*, session: Session, service_id: str) -> ServiceDefinition:
    """A service that has a program to run (400 for a passive one)."""
    definition = service_definition_get(session=session, service_id=service_id)
    if definition.passive:
        raise ApplicationError("The service is passive: it declares a port, nothing runs")
    return definition


def service_states(*, session: Session) -> list[ServiceState]:
    runs = {run.service_id: run for run in ServiceRun.objects.filter(session=session)}
    states = []
    for definition in session_definitions(session):
        run = runs.get(definition.id)
        if definition.passive or run is None:
            states.append(ServiceState(definition=definition, status=ServiceStatus.STOPPED))
            continue
        states.append(
            ServiceState(
                definition=definition,
                status=run.status,
                pid=run.pid if run.live else None,
                started_at=run.started_at,
                exit_code=run.exit_code,
            )
        )
    return states


def service_run_get(*, session: Session, service_id: str) -> ServiceRun | None:
    return ServiceRun.objects.filter(session=session, service_id=service_id).first()
