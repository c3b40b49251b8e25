from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.agents.models import MCP_SERVER_SECRETS, Agent, AgentMCPServer
from apps.projects.models import Project
from discobot.errors import NotFoundError

SECRET_MASK = "********"  # noqa: S105 (what clients see instead of a secret)


def agent_list(*, project: Project) -> QuerySet[Agent]:
    return project.agents.prefetch_related("mcp_servers").order_by("created_at", "id")


def agent_get(*, project: Project, agent_id: str) -> Agent:
    try:
        return project.agents.prefetch_related("mcp_servers").get(id=agent_id)
    except Agent.DoesNotExist:
        raise NotFoundError("Agent not found") from None


def mcp_server_secrets(server: AgentMCPServer) -> dict[str, dict[str, str]]:
    """The server's `env` and `headers` in clear, for the code that starts or calls it."""
    if not server.encrypted_secrets:
        return {}
    secrets: dict[str, dict[str, str]] = MCP_SERVER_SECRETS.open(server)
    return secrets


def mcp_server_public_config(server: AgentMCPServer) -> dict[str, Any]:
    """The config as clients see it: secret values masked, their names kept."""
    config = dict(server.config)
    for section in ("env", "headers"):
        names = server.config.get(f"{section}Names")
        config.pop(f"{section}Names", None)
        if names:
            config[section] = dict.fromkeys(names, SECRET_MASK)
    return config
