"""Chat end to end: a real server, a real worker generating the turns, the local LLM server,
a real sandbox, and the AI SDK 6 reading the stream as the web app does."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from discobot.redaction import encoded_forms
from tests.ai_sdk.reader import sdk_read
from tests.chat.test_mcp import PLAIN_SERVER
from tests.llmserver import LLMServer, Reply, ToolCall, Usage, llm_server
from tests.servers import Server, running_server, stop_process
from tests.terminal.conftest import SANDBOX_REMOVE, session_seed
from tests.waiting import wait_for

SESSION = "chat-1"


@dataclass
class ChatSite:
    server: Server
    llm: LLMServer
    working_copy: Path
    provider: str

    def url(self, path: str) -> str:
        return f"{self.server.base_url}/api/projects/local{path}"

    def workspace_id(self) -> str:
        """A new workspace on the working copy, made ready by the worker."""
        body = {"path": str(self.working_copy), "sourceType": "local", "provider": self.provider}
        status, created, _ = post(self, "/workspaces", body)
        assert status in (200, 201), created
        workspace_id: str = json.loads(created)["id"]
        wait_for(lambda: workspace_status(self, workspace_id) == "ready", timeout=120)
        return workspace_id


def workspace_status(site: ChatSite, workspace_id: str) -> str:
    status, body = get(site, f"/workspaces/{workspace_id}")
    assert status == 200, body
    value: str = json.loads(body)["status"]
    return value


@pytest.fixture
def site(provider_name, short_tmp) -> Iterator[ChatSite]:
    working_copy = short_tmp / "copy"
    working_copy.mkdir()
    (working_copy / "README.md").write_text("# Demo\n")
    git = ["git", "-C", str(working_copy), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    with (
        llm_server() as llm,
        running_server(
            short_tmp,
            SANDBOX_PROVIDER=provider_name,
            DEFAULT_LLM_BASE_URL=f"{llm.base_url}/v1",
            DEFAULT_LLM_MODEL="test-model",
            OPENAI_BASE_URL=f"{llm.base_url}/v1",
        ) as server,
    ):
        session_seed(server, session_id=SESSION, working_copy=working_copy, provider=provider_name)
        worker = server.start_worker(log=server.log)
        try:
            yield ChatSite(
                server=server, llm=llm, working_copy=working_copy, provider=provider_name
            )
        finally:
            stop_process(worker)
            server.manage("shell", "-c", SANDBOX_REMOVE)


def post(site: ChatSite, path: str, body: dict) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(
        site.url(path),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def get(site: ChatSite, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(site.url(path), timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def user_message(text: str, message_id: str = "u1") -> dict:
    return {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}


def stored_messages(site: ChatSite) -> list[dict]:
    status, body = get(site, f"/sessions/{SESSION}/messages")
    assert status == 200
    messages: list[dict] = json.loads(body)["messages"]
    return messages


def test_an_answer_streams_as_the_ai_sdk_reads_it_and_is_stored_as_it_rebuilt_it(site):
    site.llm.script(Reply(text=("Hello", " there")))

    status, body, headers = post(
        site, "/chat", {"id": SESSION, "messages": [user_message("Say hello")]}
    )

    assert status == 200
    assert headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert body.endswith(b"data: [DONE]\n\n")
    read = sdk_read(body)
    texts = [part["text"] for part in read["message"]["parts"] if part["type"] == "text"]
    assert texts == ["Hello there"]
    user, answer = stored_messages(site)
    assert user["parts"] == [{"type": "text", "text": "Say hello"}]
    assert answer == read["message"]
    assert answer["metadata"]["usage"]["inputTokens"] > 0


def test_tool_calls_write_a_file_and_run_a_command_the_session_s_diff_shows(site):
    write = ToolCall("call-1", "Write", json.dumps({"file_path": "notes.txt", "content": "hi\n"}))
    run = ToolCall("call-2", "Bash", json.dumps({"command": "echo more >> README.md && id -un"}))
    site.llm.script(Reply(tool_calls=(write, run)), Reply(text=("Written.",)))

    status, body, _ = post(site, "/chat", {"id": SESSION, "messages": [user_message("Write")]})

    assert status == 200
    tools = [p for p in sdk_read(body)["message"]["parts"] if p["type"] == "dynamic-tool"]
    assert [(p["toolName"], p["state"]) for p in tools] == [
        ("Write", "output-available"),
        ("Bash", "output-available"),
    ]
    read_status, read = get(site, f"/sessions/{SESSION}/files/read?path=notes.txt")
    assert read_status == 200, read
    assert b"hi" in read
    status, diff = get(site, f"/sessions/{SESSION}/diff?format=files")
    assert status == 200, diff
    changed = {entry["path"]: entry["status"] for entry in json.loads(diff)["files"]}
    assert changed == {"notes.txt": "added", "README.md": "modified"}


def test_the_agent_calls_a_tool_of_its_mcp_stdio_server_running_in_the_sandbox(site):
    (site.working_copy / "mcp_plain.py").write_text(PLAIN_SERVER)
    git = ["git", "-C", str(site.working_copy), "-c", "user.name=T", "-c", "user.email=t@e.com"]
    subprocess.run([*git, "add", "mcp_plain.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "An MCP server"], check=True)
    status, body, _ = post(
        site,
        "/agents",
        {
            "name": "With tools",
            "agentType": "opencode",
            "mcpServers": [
                {
                    "name": "plain",
                    "config": {
                        "type": "stdio",
                        "command": "python3",
                        "args": ["mcp_plain.py"],
                        "env": {"GREETING": "bonjour"},
                    },
                }
            ],
        },
    )
    assert status == 201, body
    greet = ToolCall("call-1", "mcp__plain__greet", json.dumps({"name": "Ada"}))
    site.llm.script(Reply(tool_calls=(greet,)), Reply(text=("Greeted.",)))

    status, body, _ = post(
        site,
        "/chat",
        {
            "id": "chat-mcp",
            "messages": [user_message("Greet Ada")],
            "workspaceId": site.workspace_id(),
            "agentId": json.loads(body)["id"],
        },
    )

    assert status == 200, body
    read = sdk_read(body)
    assert [chunk for chunk in read["chunks"] if chunk["type"] == "error"] == []
    offered = [tool["function"]["name"] for tool in site.llm.model_calls()[0].body["tools"]]
    assert "mcp__plain__greet" in offered
    tool = next(p for p in read["message"]["parts"] if p["type"] == "dynamic-tool")
    assert (tool["toolName"], tool["state"]) == ("mcp__plain__greet", "output-available")
    assert tool["output"] == "bonjour, Ada"
    followed = site.llm.model_calls()[1].body["messages"][-1]
    assert (followed["role"], followed["content"]) == ("tool", "bonjour, Ada")


def test_nothing_running_is_a_204_and_a_second_client_follows_a_slow_answer(site):
    assert get(site, f"/chat/{SESSION}/stream")[0] == 204
    site.llm.script(Reply(text=tuple(f"w{index} " for index in range(20)), delay=0.2))
    first: dict = {}

    thread = threading.Thread(
        target=lambda: first.update(
            result=post(site, "/chat", {"id": SESSION, "messages": [user_message("Count")]})
        )
    )
    thread.start()
    wait_for(lambda: site.llm.model_calls(), timeout=60)
    status, body = get(site, f"/chat/{SESSION}/stream")
    thread.join(120)

    assert status == 200
    assert sdk_read(body)["message"] == sdk_read(first["result"][1])["message"]


def test_cancel_stops_the_answer_and_saves_it_as_interrupted(site):
    site.llm.script(Reply(text=tuple(f"w{index} " for index in range(200)), delay=0.1))
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(
            r=post(site, "/chat", {"id": SESSION, "messages": [user_message("Go on")]})
        )
    )
    thread.start()
    wait_for(lambda: site.llm.model_calls(), timeout=60)

    assert post(site, f"/chat/{SESSION}/cancel", {})[0] == 200
    thread.join(120)

    answer = stored_messages(site)[-1]
    assert answer["metadata"]["stoppedBy"] == "user"
    assert get(site, f"/chat/{SESSION}/stream")[0] == 204


def test_an_unknown_project_hides_every_chat_route(site):
    assert post(site, "/chat", {})[0] == 400
    outsider = site.server.base_url + "/api/projects/other"
    for method, path in (
        ("POST", "/chat"),
        ("GET", f"/chat/{SESSION}/stream"),
        ("POST", f"/chat/{SESSION}/cancel"),
        ("GET", f"/sessions/{SESSION}/messages"),
    ):
        request = urllib.request.Request(
            outsider + path, data=b"{}" if method == "POST" else None, method=method
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 404


CANARY = "sk-canary-4f9c2e7a1b3d5f60"


def test_a_stored_key_printed_by_a_tool_or_said_by_the_model_is_masked_everywhere(site):
    status, created, _ = post(site, "/credentials", {"provider": "anthropic", "apiKey": CANARY})
    assert status in (200, 201), created
    command = f"echo {CANARY}; echo 'KEY={CANARY}' | base64"
    half = len(CANARY) // 2
    site.llm.script(
        Reply(tool_calls=(ToolCall("call-1", "Bash", json.dumps({"command": command})),)),
        Reply(text=("The key is ", CANARY[:half], CANARY[half:], ".")),  # split across deltas
    )

    status, body, _ = post(
        site, "/chat", {"id": SESSION, "messages": [user_message(f"Use {CANARY}")]}
    )

    assert status == 200
    read = sdk_read(body)
    answer = [part["text"] for part in read["message"]["parts"] if part["type"] == "text"]
    assert answer == ["The key is ****."]
    tool = next(p for p in read["message"]["parts"] if p["type"] == "dynamic-tool")
    assert tool["output"]["stdout"].startswith("****\n")
    seen = {
        "the stream": body.decode(),
        "the messages": get(site, f"/sessions/{SESSION}/messages")[1].decode(),
        "the actions": get(site, f"/sessions/{SESSION}/actions")[1].decode(),
        # What the model is told (its own tool call it wrote itself, so it is not checked).
        "the model": json.dumps(
            [
                message
                for call in site.llm.model_calls()
                for message in call.body["messages"]
                if message["role"] in ("user", "tool")
            ]
        ),
        "the database": site.server.manage("dumpdata").stdout,
    }
    for where, text in seen.items():
        assert [form for form in encoded_forms(CANARY) if form in text] == [], where


def usage_report(site: ChatSite, group_by: str) -> dict:
    status, body = get(site, f"/usage?groupBy={group_by}")
    assert status == 200, body
    report: dict = json.loads(body)
    return report


def test_a_turn_stores_its_usage_and_each_tool_call_in_the_session_s_actions(site):
    write = ToolCall("call-1", "Write", json.dumps({"file_path": "notes.txt", "content": "hi\n"}))
    run = ToolCall("call-2", "Bash", json.dumps({"command": "echo more >> README.md; exit 3"}))
    site.llm.script(
        Reply(tool_calls=(write, run), usage=Usage(100, 20, cached_tokens=30, reasoning_tokens=5)),
        Reply(text=("Written.",), usage=Usage(200, 10)),
    )

    status, body, _ = post(site, "/chat", {"id": SESSION, "messages": [user_message("Write")]})

    assert status == 200, body
    answer = stored_messages(site)[-1]
    # The operator's default endpoint has no price: cost 0, and said so.
    assert answer["metadata"]["usage"] == {
        "inputTokens": 300,
        "outputTokens": 30,
        "cachedTokens": 30,
        "reasoningTokens": 5,
    }
    assert (answer["metadata"]["cost"], answer["metadata"]["priced"]) == (0, False)
    expected = {
        "inputTokens": 300,
        "outputTokens": 30,
        "cachedTokens": 30,
        "reasoningTokens": 5,
        "cost": 0,
        "turns": 1,
    }
    for group_by in ("user", "session", "model", "day"):
        report = usage_report(site, group_by)
        assert report["totals"] == expected
        [group] = report["groups"]
        assert {name: group[name] for name in expected} == expected
    assert usage_report(site, "session")["groups"][0]["key"] == SESSION
    assert usage_report(site, "model")["groups"][0]["key"] == answer["metadata"]["model"]

    status, body = get(site, f"/sessions/{SESSION}/actions")
    assert status == 200, body
    page = json.loads(body)
    assert page["next"] is None
    bash, written = page["actions"]  # newest first
    assert (written["kind"], written["tool"], written["files"]) == (
        "tool_call",
        "Write",
        ["notes.txt"],
    )
    assert json.loads(written["input"]) == {"file_path": "notes.txt", "content": "hi\n"}
    assert (bash["tool"], bash["exitCode"], bash["files"]) == ("Bash", 3, ["README.md"])
    for action in (bash, written):
        assert action["user"] is not None and action["user"]["email"]
        assert action["messageId"] == answer["id"]
        assert action["durationMs"] >= 0
        assert action["provider"] == ""
    status, body = get(site, f"/sessions/{SESSION}/actions?tool=Write&limit=1")
    assert [action["tool"] for action in json.loads(body)["actions"]] == ["Write"]


def test_a_turn_on_an_openai_key_costs_litellm_s_list_price_in_its_message_and_usage(site):
    import litellm

    status, body, _ = post(site, "/credentials", {"provider": "openai", "apiKey": "sk-test-1"})
    assert status == 200, body
    status, body, _ = post(
        site, "/agents", {"name": "Priced", "agentType": "opencode", "model": "openai/gpt-4.1"}
    )
    assert status == 201, body
    site.llm.script(Reply(text=("Hi",), usage=Usage(1000, 50)))

    status, body, _ = post(
        site,
        "/chat",
        {
            "id": "chat-priced",
            "messages": [user_message("Hello")],
            "workspaceId": site.workspace_id(),
            "agentId": json.loads(body)["id"],
        },
    )

    assert status == 200, body
    prompt, completion = litellm.cost_per_token(
        model="openai/gpt-4.1", prompt_tokens=1000, completion_tokens=50
    )
    status, body = get(site, "/sessions/chat-priced/messages")
    metadata = json.loads(body)["messages"][-1]["metadata"]
    assert metadata["cost"] == pytest.approx(prompt + completion)
    assert (metadata["priced"], metadata["provider"]) == (True, "openai")
    [group] = usage_report(site, "model")["groups"]
    assert (group["key"], group["turns"]) == ("openai/gpt-4.1", 1)
    assert group["cost"] == pytest.approx(prompt + completion)
