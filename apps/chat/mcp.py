"""The agent's MCP servers for one turn, through the official `mcp` SDK's ClientSession.

A stdio server runs INSIDE the session's sandbox (`provider.spawn`), its pipes bridged to the
SDK's message streams here; an http server is called from the server with its sealed headers
(the SDK's streamable HTTP client). Each server lives in a task of its own, so one that fails to
start, or dies later, costs only its own tools: it is logged once and the turn goes on.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
import httpx2
from django.conf import settings
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from apps.agents.models import Agent
from apps.agents.selectors import mcp_server_secrets
from apps.chat.tools_base import ToolError, ToolResult
from apps.sandbox.provider import SandboxProcess, SandboxProvider

logger = logging.getLogger(__name__)

# What model APIs accept as a tool name (OpenAI's rule; Anthropic's allows 128 characters).
TOOL_NAME_MAX = 64
TOOL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
STDERR_TAIL = 4096


@dataclass(frozen=True)
class MCPServerConfig:
    """One enabled MCP server of the agent, its secrets in clear (contract §2: `{type:"stdio",
    command, args?, env?}` or `{type:"http", url, headers?}`)."""

    name: str
    type: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def agent_mcp_servers(*, agent: Agent) -> list[MCPServerConfig]:
    """The agent's enabled MCP servers, unsealed for the turn that starts or calls them."""
    configs = []
    for server in agent.mcp_servers.filter(enabled=True).order_by("created_at", "id"):
        secrets = mcp_server_secrets(server)
        config = server.config
        configs.append(
            MCPServerConfig(
                name=server.name,
                type=str(config.get("type", "")),
                command=str(config.get("command", "")),
                args=tuple(str(arg) for arg in config.get("args") or ()),
                env=dict(secrets.get("env", {})),
                url=str(config.get("url", "")),
                headers=dict(secrets.get("headers", {})),
            )
        )
    return configs


def tool_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>` with what model APIs refuse replaced; a long name keeps its start
    and a hash of the whole, so two long names stay apart."""
    name = TOOL_NAME_UNSAFE.sub("_", f"mcp__{server}__{tool}")
    if len(name) > TOOL_NAME_MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: TOOL_NAME_MAX - 9]}_{digest}"
    return name


def failure_text(error: BaseException) -> str:
    """The first real error under task groups' exception groups, in one line."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}".splitlines()[0]


@asynccontextmanager
async def sandbox_stdio(
    process: SandboxProcess, stderr_tail: bytearray
) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's (read, write) stream pair over a program in the sandbox: one JSON-RPC message
    per line each way (MCP stdio transport). Its stderr is drained into `stderr_tail` (a server
    blocked on a full stderr pipe would stop answering)."""
    reader_in, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, writer_out = anyio.create_memory_object_stream[SessionMessage](0)

    async def stdout_to_session() -> None:
        async with reader_in:
            buffer = b""
            while chunk := await process.read():
                *lines, buffer = (buffer + chunk).split(b"\n")
                for line in lines:
                    if line.strip():
                        await reader_in.send(message_parse(line))

    async def session_to_stdin() -> None:
        async with writer_out:
            async for message in writer_out:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                await process.write(data.encode() + b"\n")

    async def stderr_drain() -> None:
        while chunk := await process.read_stderr():
            stderr_tail.extend(chunk)
            del stderr_tail[:-STDERR_TAIL]

    try:
        async with anyio.create_task_group() as group:
            for pump in (stdout_to_session, session_to_stdin, stderr_drain):
                group.start_soon(quietly, pump)
            try:
                yield read_stream, write_stream
            finally:
                group.cancel_scope.cancel()
    finally:
        await process.close()


async def quietly(pump: Any) -> None:
    """A pump ends with its pipe: a server gone is seen by the session as its stream closing."""
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await pump()


def message_parse(line: bytes) -> SessionMessage | Exception:
    try:
        message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValueError as error:  # the session surfaces it
        return error
    return SessionMessage(message)


def call_output(result: types.CallToolResult) -> Any:
    """Text blocks joined as one string; otherwise the blocks as MCP defines them."""
    blocks = result.content
    if all(isinstance(block, types.TextContent) for block in blocks):
        return "\n".join(block.text for block in blocks if isinstance(block, types.TextContent))
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in blocks]


class MCPConnection:
    """One server for the turn: connected, listed and kept open by `run`, its own task."""

    def __init__(
        self, config: MCPServerConfig, provider: SandboxProvider, session_uuid: str
    ) -> None:
        self.config = config
        self.provider = provider
        self.session_uuid = session_uuid
        self.session: ClientSession | None = None
        self.tools: list[types.Tool] = []
        self.ready = anyio.Event()
        self.stop = anyio.Event()
        self.stderr_tail = bytearray()

    async def run(self) -> None:
        try:
            async with (
                self.transport() as (read_stream, write_stream),
                ClientSession(read_stream, write_stream) as session,
            ):
                with anyio.fail_after(settings.AGENT_MCP_START_SECONDS):
                    await session.initialize()
                    self.tools = await tools_list(session)
                self.session = session
                self.ready.set()
                await self.stop.wait()
        except Exception as error:  # its tools go missing; the turn goes on
            said = self.stderr_tail.decode(errors="replace").strip().splitlines()
            logger.warning(
                "MCP server %s of session %s is left out: %s%s",
                self.config.name,
                self.session_uuid,
                failure_text(error),
                f" (it said: {said[-1][:300]})" if said else "",
            )
        finally:
            self.session = None
            self.ready.set()

    def transport(self) -> AbstractAsyncContextManager[tuple[Any, Any]]:
        if self.config.type == "stdio":
            return self.stdio_transport()
        if self.config.type == "http":
            # The SDK's transport takes its headers on the client (httpx2, the SDK's own).
            timeout = httpx2.Timeout(30.0, read=settings.AGENT_MCP_CALL_SECONDS)
            client = httpx2.AsyncClient(headers=self.config.headers, timeout=timeout)
            return http_transport(self.config.url, client)
        raise ValueError(f"unknown MCP server type {self.config.type!r}")

    @asynccontextmanager
    async def stdio_transport(self) -> AsyncIterator[tuple[Any, Any]]:
        if not self.config.command:
            raise ValueError("no command is configured")
        command = [self.config.command, *self.config.args]
        process = await anyio.to_thread.run_sync(
            lambda: self.provider.spawn(self.session_uuid, command, env=self.config.env)
        )
        async with sandbox_stdio(process, self.stderr_tail) as streams:
            yield streams


@asynccontextmanager
async def http_transport(url: str, client: Any) -> AsyncIterator[tuple[Any, Any]]:
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams


async def tools_list(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    while True:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


class MCPConnections:
    """The agent's MCP servers for one turn, started together, each in its own task."""

    def __init__(
        self, provider: SandboxProvider, session_uuid: str, configs: Sequence[MCPServerConfig]
    ) -> None:
        self.connections = [MCPConnection(config, provider, session_uuid) for config in configs]
        self._group: anyio.abc.TaskGroup | None = None
        self._routes: dict[str, tuple[MCPConnection, types.Tool]] = {}
        self._started = False

    async def start(self) -> None:
        if self._started or not self.connections:
            self._started = True
            return
        self._started = True
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        for connection in self.connections:
            self._group.start_soon(connection.run)
        for connection in self.connections:
            await connection.ready.wait()
        for connection in self.connections:
            for tool in connection.tools if connection.session else ():
                base = name = tool_name(connection.config.name, tool.name)
                suffix = 2
                while name in self._routes:  # two names that read the same once sanitised
                    name = f"{base[: TOOL_NAME_MAX - 4]}_{suffix:03d}"
                    suffix += 1
                self._routes[name] = (connection, tool)

    async def close(self) -> None:
        for connection in self.connections:
            connection.stop.set()
        if self._group is not None:
            group, self._group = self._group, None
            await group.__aexit__(None, None, None)

    def specs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "description": tool.description or tool.title or tool.name,
                "parameters": tool.input_schema or {"type": "object", "properties": {}},
            }
            for name, (_, tool) in self._routes.items()
        ]

    def has(self, name: str) -> bool:
        return name in self._routes

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        connection, tool = self._routes[name]
        session = connection.session
        if session is None:
            raise ToolError(f"The MCP server {connection.config.name} is no longer running")
        result = await session.call_tool(
            tool.name, arguments, read_timeout_seconds=settings.AGENT_MCP_CALL_SECONDS
        )
        output = call_output(result)
        if result.is_error:
            said = output if isinstance(output, str) and output else "the tool reported an error"
            return ToolResult(output=output, error=said)
        return ToolResult(output=output)
