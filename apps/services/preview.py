"""Live preview of a service: `http://{sessionId}-svc-{serviceId}.{host}` is the service's port
inside the session's sandbox (the proxy is `apps.services.proxy`). These are its rules: which
session and service a host names, who may open it, where it goes.

With AUTH_ENABLED=true a preview host is opened only with a cookie of its own: the API
(`.../services/{id}/preview`, a project-scoped view on the main host) hands a signed-in member
a short-lived signed link to the preview host's `/__discobot/preview`, which turns it into an
HttpOnly cookie for that host only. The main session cookie never reaches a preview host (its
cookie is the main host's only), and each request checks the membership again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core import signing

from apps.accounts.models import User
from apps.projects.selectors import project_access
from apps.sandbox.provider import SandboxState
from apps.services.definitions import ServiceDefinition
from apps.services.models import ServiceRun
from apps.services.selectors import session_definitions
from apps.services.services import run_settle
from apps.workspaces.models import Session
from apps.workspaces.sandboxes import session_sandbox_provider, session_sandbox_start
from discobot.errors import ApplicationError, NotFoundError

# The first label of a preview host; a session id may hold "-svc-" itself only at its end.
PREVIEW_HOST = re.compile(
    r"(?P<session>[a-z0-9-]{1,65}?)-svc-(?P<service>[a-z0-9_-]{1,63})\.(?P<main>.+)", re.I
)
LINK_PATH = "/__discobot/preview"
LINK_SALT = "discobot.services.preview.link"
LINK_MAX_AGE_SECONDS = 60
COOKIE_NAME = "discobot_preview"
COOKIE_SALT = "discobot.services.preview.cookie"
COOKIE_MAX_AGE_SECONDS = 12 * 3600
SESSION_NOT_FOUND = "Session not found"
SERVICE_NOT_FOUND = "Service not found"


class ServiceNotRunning(ApplicationError):
    status_code = 503


@dataclass(frozen=True)
class PreviewHost:
    session_id: str  # as the browser sent it: lowercased
    service_id: str
    main_host: str  # the host the API answers on: the preview host less its first label


def preview_host_parse(host: str) -> PreviewHost | None:
    match = PREVIEW_HOST.fullmatch(host)
    if match is None:
        return None
    return PreviewHost(match["session"], match["service"], match["main"])


def preview_session_get(session_id: str) -> Session:
    """The session a preview host names. Browsers lowercase host names, so the id is matched
    without case; and a session id is unique only within its project, so an id that names
    sessions of several projects (or two of one project differing in case) is refused (404)
    rather than guessed: the host carries no project."""
    found = list(Session.objects.filter(id__iexact=session_id).select_related("workspace")[:2])
    if len(found) != 1:
        raise NotFoundError(SESSION_NOT_FOUND)
    return found[0]


def preview_definition_get(*, session: Session, service_id: str) -> ServiceDefinition:
    """The service a preview names, without case (file names keep theirs, host names do not);
    one of two names differing only in case is not guessed."""
    found = [d for d in session_definitions(session) if d.id.lower() == service_id.lower()]
    if len(found) != 1 or not found[0].http:
        raise NotFoundError(SERVICE_NOT_FOUND)
    return found[0]


def preview_upstream(*, session: Session, definition: ServiceDefinition) -> tuple[str, int]:
    """Where the service's http port is now: the sandbox started if it is not running (a
    passive service declares a port that something in the sandbox serves); a service with a
    program must be running (503 otherwise)."""
    provider = session_sandbox_provider(session)
    if provider.status(str(session.uuid)).state != SandboxState.RUNNING:
        provider = session_sandbox_start(session)
    if not definition.passive:
        run = ServiceRun.objects.filter(session=session, service_id=definition.id).first()
        if run is None or not run.live or not run_settle(session, run):
            raise ServiceNotRunning(f"The service {definition.id} is not running: start it first")
    assert definition.http is not None  # noqa: S101 (preview_definition_get's promise)
    return provider.port_address(str(session.uuid), definition.http)


def preview_next_check(next_path: str) -> str:
    """Where the preview goes after its link: a path on the preview host, never another host."""
    parts = urlsplit(next_path)
    if (
        not next_path.startswith("/")
        or next_path.startswith("//")
        or "\\" in next_path
        or parts.scheme
        or parts.netloc
        or any(ord(character) < 0x20 or ord(character) == 0x7F for character in next_path)
    ):
        raise ApplicationError("next must be a path on the preview host")
    return next_path


def grant(*, user_id: Any, session: Session, definition: ServiceDefinition) -> dict[str, str]:
    return {"user": str(user_id), "session": str(session.uuid), "service": definition.id}


def preview_link(
    *, session: Session, service_id: str, user: User, main_host: str, scheme: str, next_path: str
) -> str:
    """The preview host's link that signs `user` in to the service's preview (valid briefly)."""
    definition = preview_definition_get(session=session, service_id=service_id)
    next_path = preview_next_check(next_path)
    token = signing.dumps(
        grant(user_id=user.pk, session=session, definition=definition), salt=LINK_SALT
    )
    host = f"{session.id.lower()}-svc-{definition.id.lower()}.{main_host}"
    return f"{scheme}://{host}{LINK_PATH}?{urlencode({'token': token, 'next': next_path})}"


def preview_signin_url(
    *, preview: PreviewHost, session: Session, scheme: str, next_path: str
) -> str:
    """The main host's API call that issues the link, for a visitor without a preview cookie."""
    session_path = f"/api/projects/{session.project_id}/sessions/{session.id}"
    path = f"{session_path}/services/{preview.service_id}/preview"
    return f"{scheme}://{preview.main_host}{path}?{urlencode({'next': next_path})}"


def preview_cookie_from_link(
    *, token: str, session: Session, definition: ServiceDefinition
) -> str | None:
    """The preview cookie's value for a valid, fresh link of this service by a member; None
    when the link is tampered with, expired, another service's or its user not a member."""
    try:
        granted = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not granted_to_member(granted, session=session, definition=definition):
        return None
    return signing.dumps(granted, salt=COOKIE_SALT)


def preview_cookie_valid(
    cookie: str | None, *, session: Session, definition: ServiceDefinition
) -> bool:
    """Whether the request may open the preview: anonymous mode, or a fresh preview cookie of
    this service whose user is still a member of the project."""
    if not settings.AUTH_ENABLED:
        return True
    if not cookie:
        return False
    try:
        granted = signing.loads(cookie, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return False
    return granted_to_member(granted, session=session, definition=definition)


def granted_to_member(granted: Any, *, session: Session, definition: ServiceDefinition) -> bool:
    if not isinstance(granted, dict):
        return False
    if granted.get("session") != str(session.uuid) or granted.get("service") != definition.id:
        return False
    user = User.objects.filter(pk=str(granted.get("user")), is_active=True).first()
    if user is None:
        return False
    try:
        project_access(user=user, project_id=session.project_id)
    except NotFoundError:
        return False
    return True
