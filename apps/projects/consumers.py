"""The base of every WebSocket under a project (terminal, chat): the same access check as HTTP."""

from __future__ import annotations

from typing import Any, ClassVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from apps.projects.models import Project, ProjectMember, Role
from apps.projects.selectors import project_access
from discobot.errors import ApplicationError, NotFoundError

# Close codes of a refused project WebSocket (4000-4999 are the application's, RFC 6455 §7.4.2),
# modelled on the HTTP status the same request would get.
CLOSE_NOT_FOUND = 4404  # not a member: the project is reported missing, as over HTTP
CLOSE_FORBIDDEN = 4403  # a member without `required_role`


# Channels is untyped: its base is Any to mypy.
class ProjectScopedConsumer(AsyncWebsocketConsumer):  # type: ignore[misc, unused-ignore]
    """Resolves `project_access` for `scope["user"]` (set by the WebSocket caller middleware)
    and the route's `project_id` before the subclass's `connect()` runs.

    A refusal accepts and at once closes with CLOSE_NOT_FOUND or CLOSE_FORBIDDEN and the
    reason: a browser sees a close code, whereas a handshake refused before acceptance is an
    HTTP 403 it cannot tell from any other failure. Nothing of the subclass runs for it.
    """

    required_role: ClassVar[Role | None] = None
    project: Project
    membership: ProjectMember

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            self.membership = await database_sync_to_async(project_access)(
                user=self.scope["user"],
                project_id=self.scope["url_route"]["kwargs"]["project_id"],
                role=self.required_role,
            )
        except ApplicationError as refusal:
            await self.accept()
            code = CLOSE_NOT_FOUND if isinstance(refusal, NotFoundError) else CLOSE_FORBIDDEN
            await self.close(code=code, reason=refusal.message)
            return
        self.project = self.membership.project
        await super().websocket_connect(message)
