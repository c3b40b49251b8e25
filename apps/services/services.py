"""Starting and stopping a session's services in its sandbox, and noticing their end.

A run is launched detached (a session of its own in the sandbox) by a short exec, so it
outlives the request and every server process sees it: its state is the `ServiceRun` row,
its output and exit code are files in the working copy (`apps.services.runfiles`). While it
lives it holds the sandbox with a `service` SandboxUse, renewed by the worker's run watch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from uuid import uuid4

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.sandbox.provider import SandboxState
from apps.services.definitions import SERVICES_FOLDER
from apps.services.models import ServiceRun, ServiceStatus
from apps.services.runfiles import LAUNCH_SCRIPT, STOP_SCRIPT, run_exit_code
from apps.services.selectors import service_runnable_get
from apps.workspaces.models import SandboxUseKind, Session, SessionStatus
from apps.workspaces.sandboxes import (
    sandbox_use_begin,
    sandbox_use_end,
    sandbox_use_renew,
    session_sandbox_provider,
)
from discobot.errors import ConflictError

logger = logging.getLogger(__name__)

LAUNCH_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
ALREADY_RUNNING = "The service is already running"


def service_start(*, session: Session, service_id: str, user: User | None) -> ServiceRun:
    """Runs the service's file in the session's sandbox (started if it is not), with PORT set
    to its port; 409 while a run of it lives."""
    definition = service_runnable_get(session=session, service_id=service_id)
    service_runs_settle(session=session)
    try:
        with transaction.atomic():
            previous = (
                ServiceRun.objects.select_for_update()
                .filter(session=session, service_id=service_id)
                .first()
            )
            if previous is not None and previous.live:
                raise ConflictError(ALREADY_RUNNING)
            if previous is not None:
                previous.delete()
            run = ServiceRun.objects.create(
                id=uuid4(),
                session=session,
                service_id=service_id,
                status=ServiceStatus.STARTING,
                port=definition.port,
            )
    except IntegrityError:  # a concurrent start made its row first
        raise ConflictError(ALREADY_RUNNING) from None
    try:
        use = sandbox_use_begin(session=session, kind=SandboxUseKind.SERVICE, user=user)
    except BaseException:
        run_finish(run, status=ServiceStatus.ERROR)
        raise
    run.use = use
    try:
        provider = session_sandbox_provider(session)
        env = {"PORT": str(definition.port)} if definition.port else {}
        command = ["sh", "-c", LAUNCH_SCRIPT, "sh", service_id, str(run.id)]
        command.append("./" + "/".join((*SERVICES_FOLDER, service_id)))
        result = provider.exec(str(session.uuid), command, env=env, timeout=LAUNCH_TIMEOUT_SECONDS)
        pid = result.stdout.decode(errors="replace").strip()
        if result.exit_code != 0 or not pid.isdigit():
            error = result.stderr.decode(errors="replace").strip() or "no process started"
            raise ConflictError(f"The service could not be started: {error}")
    except BaseException:
        run_finish(run, status=ServiceStatus.ERROR)
        raise
    run.pid = int(pid)
    run.status = ServiceStatus.RUNNING
    run.save(update_fields=["pid", "status", "use"])
    return run


def service_stop(*, session: Session, service_id: str) -> None:
    """Ends the service's run (its whole process group: TERM, then KILL); nothing to do when
    none lives."""
    service_runnable_get(session=session, service_id=service_id)
    run = ServiceRun.objects.filter(session=session, service_id=service_id).first()
    if run is not None and run.live:
        run_kill(session, run)
        run_finish(run, status=ServiceStatus.STOPPED)


def run_kill(session: Session, run: ServiceRun) -> None:
    if run.pid is None or not session.sandbox_provider:
        return
    provider = session_sandbox_provider(session)
    if provider.status(str(session.uuid)).state != SandboxState.RUNNING:
        return  # its processes went with the sandbox
    provider.exec(
        str(session.uuid),
        ["sh", "-c", STOP_SCRIPT, "sh", str(run.pid)],
        timeout=STOP_TIMEOUT_SECONDS,
    )


def run_finish(run: ServiceRun, *, status: ServiceStatus, exit_code: int | None = None) -> None:
    """The run is over: recorded once (a concurrent finish changes nothing), its hold on the
    sandbox released."""
    finished = ServiceRun.objects.filter(
        pk=run.pk, status__in=(ServiceStatus.STARTING, ServiceStatus.RUNNING)
    ).update(status=status, exit_code=exit_code, ended_at=timezone.now())
    run.status, run.exit_code = status, exit_code
    if finished and run.use is not None:
        sandbox_use_end(run.use)


def service_runs_settle(*, session: Session) -> None:
    """Records the end of the session's runs that ended by themselves (their `exit` file) or
    went with a sandbox that no longer runs; cheap (files on this server) when none lives."""
    live = ServiceRun.objects.filter(
        session=session, status__in=(ServiceStatus.STARTING, ServiceStatus.RUNNING)
    ).select_related("use")
    for run in live:
        run_settle(session, run)


def run_settle(session: Session, run: ServiceRun) -> bool:
    """Whether the run still lives (its end recorded otherwise)."""
    if run.status == ServiceStatus.STARTING:
        return True  # its start is still being made (or failed and says so)
    exit_code = run_exit_code(Path(session.workspace_path), run.service_id, str(run.id))
    if exit_code is not None:
        status = ServiceStatus.STOPPED if exit_code == 0 else ServiceStatus.ERROR
        run_finish(run, status=status, exit_code=exit_code)
        return False
    if session.status != SessionStatus.READY:
        run_finish(run, status=ServiceStatus.STOPPED)
        return False
    return True


def service_runs_stop_all(*, session: Session) -> None:
    """The session's sandbox is stopping: its services end first (the local provider's
    sandbox is this server, where nothing else would end them)."""
    live = ServiceRun.objects.filter(
        session=session, status__in=(ServiceStatus.STARTING, ServiceStatus.RUNNING)
    ).select_related("use")
    for run in live:
        try:
            run_kill(session, run)
        except Exception as error:  # an engine failure: the sandbox's stop ends it anyway
            logger.warning(
                "service %s of session %s not ended: %s", run.service_id, session.pk, error
            )
        run_finish(run, status=ServiceStatus.STOPPED)


def service_runs_watch() -> None:
    """The worker's pass: each live run's end noticed, and its hold on the sandbox renewed
    while it lives."""
    live = ServiceRun.objects.filter(status=ServiceStatus.RUNNING).select_related("session", "use")
    for run in live:
        if run_settle(run.session, run) and run.use is not None:
            sandbox_use_renew(run.use)
