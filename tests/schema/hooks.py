"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS) for the server's rules that no JSON
Schema can state; the schema says them in words. Each drops the generated bodies that break
such a rule, so that the fuzzer's schema-valid requests are the ones the server takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import schemathesis

from discobot.text import display_name_clean


def operation_is(ctx: Any, method: str, path: str) -> bool:
    operation = ctx.operation
    return operation is not None and (operation.method.upper(), operation.path) == (method, path)


def expires_in_the_past(body: Any) -> bool:
    """`expiresAt` of a new API token must be in the future: JSON Schema has no "now"."""
    if not isinstance(body, dict) or not isinstance(body.get("expiresAt"), str):
        return False
    try:
        expires_at = datetime.fromisoformat(body["expiresAt"])
    except ValueError:
        return False  # not a date-time: the schema refuses it already
    if expires_at.tzinfo is None:
        return False
    return expires_at <= datetime.now(UTC)


def mcp_server_names_repeat(body: Any) -> bool:
    """MCP server names are unique within an agent, once cleaned: JSON Schema's `uniqueItems`
    compares whole items, not one of their properties."""
    servers = body.get("mcpServers") if isinstance(body, dict) else None
    if not isinstance(servers, list):
        return False
    names = [
        display_name_clean(server["name"])
        for server in servers
        if isinstance(server, dict) and isinstance(server.get("name"), str)
    ]
    return len(set(names)) != len(names)


@schemathesis.hook
def filter_body(ctx: Any, body: Any) -> bool:
    if operation_is(ctx, "POST", "/api/tokens"):
        return not expires_in_the_past(body)
    if operation_is(ctx, "POST", "/api/projects/{project_id}/agents") or operation_is(
        ctx, "PUT", "/api/projects/{project_id}/agents/{agent_id}"
    ):
        return not mcp_server_names_repeat(body)
    return True
