"""Which sandbox provider runs a workspace's sessions on this server, now.

Providers are named in `PROVIDER_CLASSES` and imported lazily: a provider whose module or
library is missing, or whose engine does not answer, is simply not available.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from apps.sandbox.provider import SandboxProvider
from discobot.errors import ApplicationError, ConflictError

PROVIDER_CLASSES = {
    "docker": "apps.sandbox.docker.DockerProvider",
    "local": "apps.sandbox.local.LocalProvider",
}
# What a workspace may ask for (blank: the server's default).
PROVIDER_NAMES = tuple(PROVIDER_CLASSES)
# /workspaces/providers and /api/status ask on every request; an engine that stopped answering
# is noticed within this many seconds.
AVAILABILITY_CACHE_SECONDS = 5.0

LOCAL_PROVIDER_REFUSED = (
    "The local provider is disabled on this server: with auth on it would run sessions as the "
    "server's own user, without isolation. The operator enables it with "
    "LOCAL_PROVIDER_ENABLED=true"
)
DOCKER_NOT_ANSWERING = (
    "Docker is not available on this server, and with auth on sessions do not fall back to the "
    "local provider: start Docker (or set DOCKER_HOST), or set LOCAL_PROVIDER_ENABLED=true"
)

_availability: dict[tuple[str, str, str], tuple[float, bool]] = {}


def provider_get(name: str) -> SandboxProvider | None:
    """The provider called `name`, or None when its module (or its library) is not installed."""
    try:
        provider_class = import_string(PROVIDER_CLASSES[name])
    except ImportError:
        return None
    provider: SandboxProvider = provider_class()
    return provider


def provider_answers(name: str) -> bool:
    """Whether the provider can run sandboxes here now; cached briefly per engine address
    and image."""
    key = (name, settings.DOCKER_HOST, settings.SANDBOX_IMAGE)
    now = time.monotonic()
    cached = _availability.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        provider = provider_get(name)
        answers = provider is not None and provider.available()
    except Exception:  # an engine that fails to answer in any way is not there
        answers = False
    _availability[key] = (now + AVAILABILITY_CACHE_SECONDS, answers)
    return answers


def local_provider_allowed() -> bool:
    return not settings.AUTH_ENABLED or settings.LOCAL_PROVIDER_ENABLED


def providers_available() -> list[str]:
    """What this server can really run now, for /workspaces/providers."""
    return [
        name
        for name in PROVIDER_NAMES
        if (name != "local" or local_provider_allowed()) and provider_answers(name)
    ]


@dataclass(frozen=True)
class ProviderChoice:
    requested: str  # what the workspace (or, when it says nothing, the server) asks for
    name: str  # what runs it

    @property
    def falls_back(self) -> bool:
        return self.requested != self.name


def provider_choose(workspace_provider: str) -> ProviderChoice:
    """The provider that runs a workspace's sessions. A `docker` workspace runs on the local
    provider while no engine answers, if the local provider is allowed (always in anonymous
    mode); otherwise it is refused rather than silently losing isolation."""
    requested = workspace_provider or settings.SANDBOX_PROVIDER
    if requested == "auto":
        requested = "docker" if provider_answers("docker") else "local"
    if requested not in PROVIDER_CLASSES:
        offered = ", ".join(PROVIDER_NAMES)
        raise ApplicationError(f"Unknown provider {requested!r}; this server offers: {offered}")
    if requested == "docker" and provider_answers("docker"):
        return ProviderChoice(requested=requested, name="docker")
    if local_provider_allowed():
        return ProviderChoice(requested=requested, name="local")
    raise ConflictError(LOCAL_PROVIDER_REFUSED if requested == "local" else DOCKER_NOT_ANSWERING)


def provider_for(workspace_provider: str) -> SandboxProvider:
    """The provider that runs the sessions of a workspace whose `provider` field is given."""
    provider = provider_get(provider_choose(workspace_provider).name)
    if provider is None:  # the local provider is part of this app: only docker can be missing
        raise ConflictError(DOCKER_NOT_ANSWERING)
    return provider


def sandbox_status_messages() -> list[dict[str, str]]:
    """What /api/status says about where sessions run: a warning while they run without
    isolation, an error when they cannot run at all."""
    if provider_answers("docker"):
        if settings.SANDBOX_PROVIDER != "local":
            return []
        return [
            {
                "id": "sandbox-local",
                "level": "warn",
                "title": "Sessions run without isolation",
                "message": (
                    "SANDBOX_PROVIDER=local: sessions run on the server as its own user. Set "
                    "SANDBOX_PROVIDER=auto to run them in Docker containers."
                ),
            }
        ]
    if local_provider_allowed():
        return [
            {
                "id": "sandbox-local-fallback",
                "level": "warn",
                "title": "Sessions run without isolation",
                "message": (
                    "No Docker engine answers: docker workspaces run on the local provider, on "
                    "the server as its own user, until Docker is started."
                ),
            }
        ]
    return [
        {
            "id": "sandbox-unavailable",
            "level": "error",
            "title": "Sessions cannot run",
            "message": DOCKER_NOT_ANSWERING,
        }
    ]
