"""Start-up checks (`manage.py check`, and before `migrate` and `worker` run) that tell an
operator what the workspace settings mean on this server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register()
def workspace_roots_check(**kwargs: Any) -> list[CheckMessage]:
    if settings.AUTH_ENABLED and not settings.WORKSPACE_ROOTS:
        return [
            Warning(
                "Local folders are disabled on this server: with AUTH_ENABLED=true, workspaces "
                "may be local folders (or git sources on this disk) only inside WORKSPACE_ROOTS.",
                hint="Set WORKSPACE_ROOTS to a comma list of folders users may work in.",
                id="workspaces.W001",
            )
        ]
    return [
        Warning(
            f"WORKSPACE_ROOTS names {root}, which is not a folder on this server.",
            hint="Create it, or remove it from WORKSPACE_ROOTS.",
            id="workspaces.W002",
        )
        for root in settings.WORKSPACE_ROOTS
        if not root.is_dir()
    ]
