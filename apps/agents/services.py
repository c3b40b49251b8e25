from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.agents.models import MCP_SERVER_SECRETS, Agent, AgentMCPServer
from apps.agents.selectors import SECRET_MASK, mcp_server_secrets
from apps.audit.services import audit_changes, audit_record
from apps.projects.models import Project
from discobot.errors import ApplicationError, ConflictError

SECRET_SECTIONS = ("env", "headers")


def mcp_servers_replace(*, agent: Agent, servers: list[dict[str, Any]]) -> None:
    """Replaces the agent's MCP servers with `servers` (contract: delete and recreate).

    A masked value (as GET shows secrets) keeps the value stored under that server and name.
    """
    names = [server["name"] for server in servers]
    if len(set(names)) != len(names):
        raise ApplicationError("MCP server names must be unique within an agent")
    previous = {server.name: mcp_server_secrets(server) for server in agent.mcp_servers.all()}
    agent.mcp_servers.all().delete()
    for server in servers:
        config = {k: v for k, v in server["config"].items() if k not in SECRET_SECTIONS}
        secrets: dict[str, dict[str, str]] = {}
        for section in SECRET_SECTIONS:
            values = dict(server["config"].get(section) or {})
            for name, value in values.items():
                if value == SECRET_MASK:
                    kept = previous.get(server["name"], {}).get(section, {}).get(name)
                    if kept is None:
                        # The mask is a valid value; what is missing is a stored one to keep.
                        raise ConflictError(f"{section}.{name} needs a value: none is stored")
                    values[name] = kept
            if values:
                secrets[section] = values
                config[f"{section}Names"] = sorted(values)
        row = AgentMCPServer.objects.create(
            agent=agent, name=server["name"], config=config, enabled=server.get("enabled", True)
        )
        if secrets:
            MCP_SERVER_SECRETS.seal(row, secrets)
            row.save(update_fields=["encrypted_secrets", "secrets_key_id"])


@transaction.atomic
def agent_create(
    *,
    project: Project,
    name: str,
    agent_type: str,
    description: str = "",
    system_prompt: str = "",
    model: str = "",
    mcp_servers: list[dict[str, Any]] | None = None,
) -> Agent:
    """Creates an agent; a project's first agent becomes its default."""
    agent = Agent.objects.create(
        project=project,
        name=name,
        agent_type=agent_type,
        description=description,
        system_prompt=system_prompt,
        model=model,
        is_default=not project.agents.filter(is_default=True).exists(),
    )
    mcp_servers_replace(agent=agent, servers=mcp_servers or [])
    agent_audit(agent, "agent.created", changes=audit_changes({}, agent_audit_fields(agent)))
    return agent


def agent_audit_fields(agent: Agent) -> dict[str, Any]:
    """What the audit log shows of an agent: its MCP servers by name only (their env and
    header values are secrets, and an argument or a URL may carry one too)."""
    return {
        "name": agent.name,
        "agent_type": agent.agent_type,
        "description": agent.description,
        "system_prompt": agent.system_prompt,
        "model": agent.model,
        "is_default": agent.is_default,
        "mcp_servers": sorted(server.name for server in agent.mcp_servers.all()),
    }


def agent_audit(agent: Agent, action: str, **fields: Any) -> None:
    audit_record(
        project_id=agent.project_id,
        action=action,
        target_type="agent",
        target_id=agent.id,
        target_label=agent.name,
        **fields,
    )


@transaction.atomic
def agent_update(*, agent: Agent, changes: dict[str, Any]) -> Agent:
    """Fields present change; an empty description or prompt keeps the old one (contract §2),
    null clears it. An empty or null model means the agent type's default."""
    before = agent_audit_fields(agent)
    for field in ("name", "agent_type"):
        if field in changes:
            setattr(agent, field, changes[field])
    if "model" in changes:
        agent.model = changes["model"] or ""
    for field in ("description", "system_prompt"):
        if field in changes:
            value = changes[field]
            if value is None:
                setattr(agent, field, "")
            elif value:
                setattr(agent, field, value)
    agent.save()
    if "mcp_servers" in changes:
        mcp_servers_replace(agent=agent, servers=changes["mcp_servers"] or [])
    changed = audit_changes(before, agent_audit_fields(agent))
    if "mcp_servers" in changes:
        # Replaced even when the names stay: a config, an env or a header may have changed.
        changed["mcp_servers"] = [
            before["mcp_servers"],
            sorted(s["name"] for s in changes["mcp_servers"] or []),
        ]
    agent_audit(agent, "agent.updated", changes=changed)
    return agent


@transaction.atomic
def agent_delete(*, agent: Agent) -> None:
    """Its sessions fall back to the project's default agent; a new default is chosen."""
    project = agent.project
    was_default = agent.is_default
    agent_audit(agent, "agent.deleted")
    agent.delete()
    if was_default:
        successor = project.agents.order_by("created_at", "id").first()
        if successor is not None:
            successor.is_default = True
            successor.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def agent_default_set(*, agent: Agent) -> None:
    Agent.objects.filter(project_id=agent.project_id, is_default=True).exclude(id=agent.id).update(
        is_default=False
    )
    was_default = agent.is_default
    agent.is_default = True
    agent.save(update_fields=["is_default", "updated_at"])
    agent_audit(
        agent,
        "agent.updated",
        changes=audit_changes({"is_default": was_default}, {"is_default": True}),
    )
