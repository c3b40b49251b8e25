"""Start-up checks of the platform's settings (`manage.py check`, and before `migrate` and
`worker` run), registered by `apps.core`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def web_app_check(**kwargs: Any) -> list[CheckMessage]:
    root = settings.SPA_DIST_DIR
    if root is None or (root / "index.html").is_file():
        return []
    found = "has no index.html" if root.is_dir() else "is not a folder on this server"
    return [
        Error(
            f"SPA_DIST_DIR names {root}, which {found}.",
            hint="Point it at the web app's build (the folder holding index.html and assets/), "
            "or unset it to serve the API alone.",
            id="discobot.E001",
        )
    ]
