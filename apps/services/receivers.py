"""What the services app hears from the workspaces app (connected in `ServicesConfig.ready`)."""

from __future__ import annotations

from typing import Any

from apps.services.services import service_runs_stop_all
from apps.workspaces.models import Session


def sandbox_stopping_services(sender: Any, *, session: Session, **_: Any) -> None:
    service_runs_stop_all(session=session)
