"""The agent's MCP servers through the ToolBox: stdio ones run inside the sandbox, http ones are
called from the server with their sealed headers."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import anyio
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer

from apps.agents.services import mcp_servers_replace
from apps.chat.mcp import MCPServerConfig, agent_mcp_servers, tool_name
from apps.chat.tools import ToolBox, ToolResult
from tests.agents.factories import AgentFactory
from tests.servers import free_port
from tests.waiting import wait_for

BUILTINS = ["Bash", "Read", "Write", "Edit", "Glob", "Grep", "TodoWrite"]

# An MCP stdio server in plain python (the sandbox image has python3 but not the mcp package).
PLAIN_SERVER = """
import json, os, sys

TOOLS = [
    {"name": "greet", "description": "Greets someone",
     "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}}},
    {"name": "fail", "description": "Always fails", "inputSchema": {"type": "object"}},
]
for line in sys.stdin:
    message = json.loads(line)
    method, params = message.get("method"), message.get("params") or {}
    if "id" not in message:
        continue
    if method == "initialize":
        result = {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "plain", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call" and params["name"] == "greet":
        greeting = os.environ.get("GREETING", "hello")
        text = f"{greeting}, {params['arguments']['name']}"
        result = {"content": [{"type": "text", "text": text}]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "it broke"}], "isError": True}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"],
                          "error": {"code": -32601, "message": "unknown"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
"""

# The same kind of server made with the mcp SDK's own server side (local provider: the server's
# python has the package).
SDK_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")


@server.tool()
def shout(text: str) -> str:
    \"\"\"Says it louder.\"\"\"
    return text.upper()


server.run()
"""


def tool_names(specs: list[dict]) -> list[str]:
    return [spec["function"]["name"] for spec in specs]


class TestStdioServers:
    def test_a_plain_server_runs_in_the_sandbox_and_its_tools_are_called(
        self, provider, running, working_copy
    ):
        (working_copy / "mcp_plain.py").write_text(PLAIN_SERVER)
        config = MCPServerConfig(
            name="plain",
            type="stdio",
            command="python3",
            args=("mcp_plain.py",),
            env={"GREETING": "bonjour"},
        )

        async def turn() -> tuple[list[str], ToolResult, ToolResult]:
            async with ToolBox(provider, running, [config]) as toolbox:
                names = tool_names(await toolbox.specs())
                greeted = await toolbox.call("mcp__plain__greet", {"name": "Ada"})
                failed = await toolbox.call("mcp__plain__fail", {})
                return names, greeted, failed

        names, greeted, failed = anyio.run(turn)

        assert names == [*BUILTINS, "mcp__plain__greet", "mcp__plain__fail"]
        assert greeted == ToolResult(output="bonjour, Ada")
        assert failed == ToolResult(output="it broke", error="it broke")

    def test_a_server_made_with_the_sdk_is_called(self, running, working_copy, provider):
        if provider.name != "local":
            pytest.skip("the sandbox image has no mcp package")
        (working_copy / "mcp_sdk.py").write_text(SDK_SERVER)
        config = MCPServerConfig(
            name="notes", type="stdio", command=sys.executable, args=("mcp_sdk.py",)
        )

        async def turn() -> ToolResult:
            async with ToolBox(provider, running, [config]) as toolbox:
                return await toolbox.call("mcp__notes__shout", {"text": "quiet"})

        assert anyio.run(turn) == ToolResult(output="QUIET")

    def test_a_server_that_fails_to_start_is_logged_and_the_turn_goes_on(
        self, provider, running, working_copy, caplog, settings
    ):
        settings.AGENT_MCP_START_SECONDS = 20
        (working_copy / "mcp_plain.py").write_text(PLAIN_SERVER)
        configs = [
            MCPServerConfig(name="broken", type="stdio", command="no-such-mcp-server"),
            MCPServerConfig(name="plain", type="stdio", command="python3", args=("mcp_plain.py",)),
        ]

        async def turn() -> tuple[list[str], ToolResult, ToolResult]:
            async with ToolBox(provider, running, configs) as toolbox:
                names = tool_names(await toolbox.specs())
                listed = await toolbox.call("Bash", {"command": "echo still here"})
                greeted = await toolbox.call("mcp__plain__greet", {"name": "Bo"})
                return names, listed, greeted

        with caplog.at_level(logging.WARNING, logger="apps.chat.mcp"):
            names, listed, greeted = anyio.run(turn)

        assert names == [*BUILTINS, "mcp__plain__greet", "mcp__plain__fail"]
        assert listed.output["stdout"] == "still here\n"
        assert greeted.output == "hello, Bo"
        left_out = [r.getMessage() for r in caplog.records if "is left out" in r.getMessage()]
        assert len(left_out) == 1
        assert left_out[0].startswith(f"MCP server broken of session {running} is left out: ")

    def test_the_server_ends_with_the_turn(self, provider, running, working_copy):
        (working_copy / "mcp_plain.py").write_text(PLAIN_SERVER)
        config = MCPServerConfig(
            name="plain", type="stdio", command="python3", args=("mcp_plain.py", running)
        )

        async def turn() -> None:
            async with ToolBox(provider, running, [config]) as toolbox:
                await toolbox.specs()

        anyio.run(turn)

        def server_gone() -> bool:
            processes = provider.exec(running, ["sh", "-c", "ps -eo args || true"]).stdout
            return f"mcp_plain.py {running}".encode() not in processes

        wait_for(server_gone, timeout=30)


def guarded(app, *, header: str, value: str):
    """The MCP server's ASGI app behind a check of one request header (a bearer token)."""

    async def checked(scope, receive, send):
        if scope["type"] == "http":
            sent = dict(scope["headers"]).get(header.lower().encode())
            if sent != value.encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})
                return
        await app(scope, receive, send)

    return checked


@pytest.fixture
def http_server() -> Iterator[str]:
    """The SDK's streamable HTTP server on 127.0.0.1 in a thread, wanting `Bearer sealed-token`."""
    server = MCPServer("remote")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Adds two numbers."""
        return a + b

    app = guarded(server.streamable_http_app(), header="Authorization", value="Bearer sealed-token")
    port = free_port()
    serving = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=serving.run, daemon=True)
    thread.start()
    wait_for(lambda: serving.started, timeout=30, interval=0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    serving.should_exit = True
    thread.join(timeout=30)


@pytest.mark.django_db
class TestHttpServers:
    def agent_with(self, url: str, token: str):
        agent = AgentFactory.create()
        mcp_servers_replace(
            agent=agent,
            servers=[
                {
                    "name": "remote tools",
                    "config": {"type": "http", "url": url, "headers": {"Authorization": token}},
                }
            ],
        )
        return agent

    def test_its_tools_are_called_with_the_sealed_header(self, http_server, provider, running):
        agent = self.agent_with(http_server, "Bearer sealed-token")
        configs = agent_mcp_servers(agent=agent)

        async def turn() -> tuple[list[str], ToolResult]:
            async with ToolBox(provider, running, configs) as toolbox:
                names = tool_names(await toolbox.specs())
                return names, await toolbox.call("mcp__remote_tools__add", {"a": 2, "b": 40})

        names, added = anyio.run(turn)

        assert names == [*BUILTINS, "mcp__remote_tools__add"]
        assert added == ToolResult(output="42")

    def test_a_wrong_header_leaves_its_tools_out(self, http_server, provider, running, caplog):
        configs = agent_mcp_servers(agent=self.agent_with(http_server, "Bearer wrong"))

        async def names() -> list[str]:
            async with ToolBox(provider, running, configs) as toolbox:
                return tool_names(await toolbox.specs())

        with caplog.at_level(logging.WARNING, logger="apps.chat.mcp"):
            assert anyio.run(names) == BUILTINS
        assert "MCP server remote tools" in caplog.text
        assert "Bearer wrong" not in caplog.text

    def test_a_disabled_server_is_not_started(self):
        agent = self.agent_with("http://127.0.0.1:9/mcp", "Bearer sealed-token")
        agent.mcp_servers.update(enabled=False)

        assert agent_mcp_servers(agent=agent) == []


class TestToolNames:
    def test_names_are_what_model_apis_accept(self):
        assert tool_name("my server", "do.it/now") == "mcp__my_server__do_it_now"

    def test_long_names_are_cut_and_stay_apart(self):
        first, second = tool_name("s", "x" * 80 + "a"), tool_name("s", "x" * 80 + "b")

        assert len(first) == len(second) == 64
        assert first != second
