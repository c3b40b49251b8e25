"""The status changes a workspace and a session may make, and who may ask for each.

One table per state machine; `services.workspace_transition`, `session_transition` and
`session_commit_transition` are the only writers of these fields and check every change here.
"""

from __future__ import annotations

from enum import Flag, auto
from typing import TypeVar

from apps.workspaces.models import CommitStatus, SessionStatus, WorkspaceStatus
from discobot.errors import ConflictError


class By(Flag):
    SYSTEM = auto()  # the server's own services and jobs
    CLIENT = auto()  # a client's PUT/PATCH of `status`
    ANYONE = SYSTEM | CLIENT


class IllegalTransition(ConflictError):
    """A status change the table does not allow (for a client: 409)."""


W = WorkspaceStatus
S = SessionStatus
C = CommitStatus

WORKSPACE_TRANSITIONS: dict[tuple[WorkspaceStatus, WorkspaceStatus], By] = {
    # A new path prepares the workspace again, whatever it was doing.
    **{(status, W.INITIALIZING): By.SYSTEM for status in W},
    (W.INITIALIZING, W.CLONING): By.SYSTEM,
    (W.CLONING, W.CLONING): By.SYSTEM,  # a clone tried again
    (W.INITIALIZING, W.READY): By.SYSTEM,
    (W.CLONING, W.READY): By.SYSTEM,
    (W.READY, W.READY): By.SYSTEM,  # its HEAD moved (a commit, a checkout) or its files changed
    (W.INITIALIZING, W.ERROR): By.SYSTEM,
    (W.CLONING, W.ERROR): By.SYSTEM,
}

SESSION_TRANSITIONS: dict[tuple[SessionStatus, SessionStatus], By] = {
    # session_init: the working copy, then the sandbox.
    (S.INITIALIZING, S.CREATING_SANDBOX): By.SYSTEM,
    (S.REINITIALIZING, S.CREATING_SANDBOX): By.SYSTEM,
    (S.CREATING_SANDBOX, S.READY): By.SYSTEM,
    (S.INITIALIZING, S.ERROR): By.SYSTEM,
    (S.REINITIALIZING, S.ERROR): By.SYSTEM,
    (S.CREATING_SANDBOX, S.ERROR): By.SYSTEM,
    (S.READY, S.STOPPED): By.ANYONE,  # also the idle stop and the reconciler
    (S.STOPPED, S.READY): By.ANYONE,
    (S.STOPPED, S.REINITIALIZING): By.ANYONE,
    (S.ERROR, S.REINITIALIZING): By.ANYONE,
    # Deleting is its own request (DELETE), from any state but the end.
    **{(status, S.REMOVING): By.SYSTEM for status in S if status not in (S.REMOVING, S.REMOVED)},
}

COMMIT_TRANSITIONS: dict[tuple[CommitStatus, CommitStatus], By] = {
    (C.NONE, C.PENDING): By.SYSTEM,
    (C.COMPLETED, C.PENDING): By.SYSTEM,
    (C.FAILED, C.PENDING): By.SYSTEM,
    (C.PENDING, C.COMMITTING): By.SYSTEM,
    (C.COMMITTING, C.COMMITTING): By.SYSTEM,  # the job tried again
    (C.COMMITTING, C.COMPLETED): By.SYSTEM,
    (C.PENDING, C.FAILED): By.SYSTEM,
    (C.COMMITTING, C.FAILED): By.SYSTEM,
}

Status = TypeVar("Status", WorkspaceStatus, SessionStatus, CommitStatus)


def transition_allowed(
    table: dict[tuple[Status, Status], By], current: Status, to: Status, *, by: By
) -> bool:
    allowed = table.get((current, to))
    return allowed is not None and by in allowed


def transition_check(
    table: dict[tuple[Status, Status], By], current: Status, to: Status, *, by: By
) -> None:
    if not transition_allowed(table, current, to, by=by):
        raise IllegalTransition(f"Cannot change status from {current} to {to}")
