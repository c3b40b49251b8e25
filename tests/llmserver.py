"""A local LLM provider over real HTTP on 127.0.0.1, speaking the streaming protocols litellm
talks: OpenAI Chat Completions, OpenAI Responses (the Codex backend too), Anthropic Messages,
GitHub Copilot's token exchange, and the model lists.

Tests queue what the model answers (`Reply`: reasoning, text pieces, tool calls split across
chunks, usage, a delay between chunks) or how the provider refuses (`Failure`), then read back
every request it got (path, headers, JSON body) to check what each credential kind sends.
Routes go by the end of the path, so any base URL prefix (`/anthropic`, `/codex`, a gateway's
own) reaches the same provider.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Anthropic's OAuth access tokens carry this prefix; refreshed ones here do too.
ANTHROPIC_OAUTH_PREFIX = "sk-ant-oat01-"


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str
    # The arguments' JSON is sent in this many pieces, as providers stream it.
    pieces: int = 3


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 12
    output_tokens: int = 7
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    text: tuple[str, ...] = ()
    reasoning: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    # Seconds between chunks: a slow stream.
    delay: float = 0.0


@dataclass(frozen=True)
class Failure:
    """A refusal as the provider words it; `kind` picks the provider's own error shape."""

    status: int
    # "auth", "rate_limit", "context_overflow", "unknown_model", "overloaded"
    kind: str
    message: str
    retry_after: int | None = None


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class LLMServer:
    base_url: str = ""
    scripts: queue.Queue[Reply | Failure] = field(default_factory=queue.Queue)
    requests: list[Recorded] = field(default_factory=list)
    # Streams the client closed before the end (a write to it failed).
    streams_cut: int = 0
    models: list[str] = field(default_factory=lambda: ["gpt-4.1", "claude-sonnet-4-5"])
    # GitHub Copilot's token exchange: the API token it hands out and how long it lasts.
    copilot_tokens: list[str] = field(default_factory=list)
    copilot_token_seconds: int = 1800
    # GitHub's answer to an account without a Copilot subscription.
    copilot_denied: bool = False
    anthropic_tokens: list[str] = field(default_factory=list)

    def script(self, *replies: Reply | Failure) -> None:
        for reply in replies:
            self.scripts.put(reply)

    def model_calls(self) -> list[Recorded]:
        """The requests that asked a model for a completion."""
        return [
            request
            for request in self.requests
            if request.path.endswith(("/chat/completions", "/responses", "/v1/messages"))
        ]

    def last_call(self) -> Recorded:
        return self.model_calls()[-1]


def sse(event: str | None, data: Any) -> bytes:
    line = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
    return (f"event: {event}\n" if event else "").encode() + line.encode()


def pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# --- Chat Completions ------------------------------------------------------------------------


def chat_completion_events(reply: Reply, body: dict[str, Any]) -> Iterator[bytes]:
    model, created = body.get("model", ""), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse(
            None,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            },
        )

    yield chunk({"role": "assistant", "content": ""})
    for piece in reply.reasoning:
        yield chunk({"reasoning_content": piece})
    for piece in reply.text:
        yield chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        function = {"name": call.name, "arguments": ""}
        yield chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call.call_id, "type": "function", "function": function}
                ]
            }
        )
        for piece in pieces(call.arguments, call.pieces):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = reply.usage
        yield sse(
            None,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": usage.input_tokens,
                    "completion_tokens": usage.output_tokens,
                    "total_tokens": usage.input_tokens + usage.output_tokens,
                    "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
                    "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
                },
            },
        )
    yield sse(None, "[DONE]")


# --- Responses -------------------------------------------------------------------------------


def responses_events(reply: Reply, body: dict[str, Any]) -> Iterator[bytes]:
    sequence = iter(range(1_000_000))
    response: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "model": body.get("model", ""),
        "output": [],
        "usage": None,
    }

    def event(kind: str, **data: Any) -> bytes:
        return sse(kind, {"type": kind, "sequence_number": next(sequence), **data})

    yield event("response.created", response=response)
    output: list[dict[str, Any]] = []
    if reply.reasoning:
        item: dict[str, Any] = {"type": "reasoning", "id": "rs_1", "summary": []}
        index = len(output)
        yield event("response.output_item.added", output_index=index, item=item)
        for piece in reply.reasoning:
            yield event(
                "response.reasoning_summary_text.delta",
                item_id="rs_1",
                output_index=index,
                summary_index=0,
                delta=piece,
            )
        item = {**item, "summary": [{"type": "summary_text", "text": "".join(reply.reasoning)}]}
        output.append(item)
        yield event("response.output_item.done", output_index=index, item=item)
    if reply.text:
        index, text = len(output), "".join(reply.text)
        item = {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        yield event("response.output_item.added", output_index=index, item=item)
        part = {"type": "output_text", "text": "", "annotations": []}
        yield event(
            "response.content_part.added",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            part=part,
        )
        for piece in reply.text:
            yield event(
                "response.output_text.delta",
                item_id="msg_1",
                output_index=index,
                content_index=0,
                delta=piece,
            )
        yield event(
            "response.output_text.done",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            text=text,
        )
        part = {**part, "text": text}
        yield event(
            "response.content_part.done",
            item_id="msg_1",
            output_index=index,
            content_index=0,
            part=part,
        )
        item = {**item, "status": "completed", "content": [part]}
        output.append(item)
        yield event("response.output_item.done", output_index=index, item=item)
    for number, call in enumerate(reply.tool_calls):
        index, item_id = len(output), f"fc_{number}"
        item = {
            "type": "function_call",
            "id": item_id,
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "",
            "status": "in_progress",
        }
        yield event("response.output_item.added", output_index=index, item=item)
        for piece in pieces(call.arguments, call.pieces):
            yield event(
                "response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=piece,
            )
        yield event(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=call.arguments,
        )
        item = {**item, "arguments": call.arguments, "status": "completed"}
        output.append(item)
        yield event("response.output_item.done", output_index=index, item=item)
    usage = reply.usage
    completed = {
        **response,
        "status": "completed",
        "output": output,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens},
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        },
    }
    yield event("response.completed", response=completed)


# --- Anthropic Messages ----------------------------------------------------------------------


def anthropic_events(reply: Reply, body: dict[str, Any]) -> Iterator[bytes]:
    usage = reply.usage

    def event(kind: str, **data: Any) -> bytes:
        return sse(kind, {"type": kind, **data})

    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": 1,
            "cache_read_input_tokens": usage.cached_tokens,
            "cache_creation_input_tokens": 0,
        },
    }
    yield event("message_start", message=message)
    index = 0
    if reply.reasoning:
        yield event(
            "content_block_start", index=index, content_block={"type": "thinking", "thinking": ""}
        )
        for piece in reply.reasoning:
            yield event(
                "content_block_delta",
                index=index,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        yield event(
            "content_block_delta",
            index=index,
            delta={"type": "signature_delta", "signature": "c2ln"},
        )
        yield event("content_block_stop", index=index)
        index += 1
    if reply.text:
        yield event("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for piece in reply.text:
            yield event(
                "content_block_delta", index=index, delta={"type": "text_delta", "text": piece}
            )
        yield event("content_block_stop", index=index)
        index += 1
    for call in reply.tool_calls:
        block = {"type": "tool_use", "id": call.call_id, "name": call.name, "input": {}}
        yield event("content_block_start", index=index, content_block=block)
        for piece in pieces(call.arguments, call.pieces):
            yield event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
        yield event("content_block_stop", index=index)
        index += 1
    stop_reason = "tool_use" if reply.tool_calls else "end_turn"
    yield event(
        "message_delta",
        delta={"stop_reason": stop_reason, "stop_sequence": None},
        usage={"output_tokens": usage.output_tokens},
    )
    yield event("message_stop")


# --- Refusals, in each provider's shape -------------------------------------------------------

OPENAI_CODES = {
    "auth": ("invalid_request_error", "invalid_api_key"),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "context_overflow": ("invalid_request_error", "context_length_exceeded"),
    "unknown_model": ("invalid_request_error", "model_not_found"),
    "overloaded": ("server_error", None),
}
ANTHROPIC_TYPES = {
    "auth": "authentication_error",
    "rate_limit": "rate_limit_error",
    "context_overflow": "invalid_request_error",
    "unknown_model": "not_found_error",
    "overloaded": "overloaded_error",
}


def failure_body(failure: Failure, path: str) -> dict[str, Any]:
    if path.endswith("/v1/messages"):
        return {
            "type": "error",
            "error": {"type": ANTHROPIC_TYPES[failure.kind], "message": failure.message},
        }
    kind, code = OPENAI_CODES[failure.kind]
    return {"error": {"message": failure.message, "type": kind, "param": None, "code": code}}


def handler_for(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            recorded = Recorded(
                method=self.command,
                path=urlsplit(self.path).path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
            )
            server.requests.append(recorded)
            return recorded

        def reply_json(
            self, body: object, status: int = 200, headers: dict[str, str] | None = None
        ) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def stream(self, events: Iterator[bytes], delay: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                for number, event in enumerate(events):
                    if delay and number:
                        time.sleep(delay)
                    self.wfile.write(event)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                server.streams_cut += 1

        def complete(self, request: Recorded) -> None:
            try:
                script = server.scripts.get_nowait()
            except queue.Empty:
                self.reply_json({"error": {"message": "No reply was scripted for this call"}}, 500)
                return
            if isinstance(script, Failure):
                headers = (
                    {"retry-after": str(script.retry_after)}
                    if script.retry_after is not None
                    else {}
                )
                self.reply_json(failure_body(script, request.path), script.status, headers)
            elif request.path.endswith("/v1/messages"):
                self.stream(anthropic_events(script, request.body), script.delay)
            elif request.path.endswith("/responses"):
                self.stream(responses_events(script, request.body), script.delay)
            else:
                self.stream(chat_completion_events(script, request.body), script.delay)

        def do_POST(self) -> None:
            request = self.record()
            if request.path.endswith(("/chat/completions", "/responses", "/v1/messages")):
                self.complete(request)
            elif request.path.endswith("/v1/oauth/token"):
                # Anthropic's token endpoint, for refreshing a near-expiry OAuth token.
                token = ANTHROPIC_OAUTH_PREFIX + secrets.token_hex(16)
                server.anthropic_tokens.append(token)
                self.reply_json(
                    {
                        "access_token": token,
                        "refresh_token": secrets.token_hex(16),
                        "expires_in": 3600,
                    }
                )
            else:
                self.reply_json({"error": "not_found"}, 404)

        def do_GET(self) -> None:
            request = self.record()
            if request.path.endswith("/copilot_internal/v2/token"):
                # GitHub's exchange of the user's OAuth token for a short-lived Copilot API token.
                if not request.header("Authorization").startswith("token "):
                    self.reply_json({"message": "Bad credentials"}, 401)
                    return
                if server.copilot_denied:
                    self.reply_json({"message": "Resource not accessible by integration"}, 403)
                    return
                token = f"tid=copilot;exp={secrets.token_hex(8)}"
                server.copilot_tokens.append(token)
                self.reply_json(
                    {
                        "token": token,
                        "expires_at": int(time.time()) + server.copilot_token_seconds,
                        "refresh_in": server.copilot_token_seconds - 300,
                        "endpoints": {"api": f"{server.base_url}/copilot"},
                    }
                )
            elif request.path.endswith("/models"):
                data = [
                    {"id": model, "object": "model", "created": 0, "owned_by": "test"}
                    for model in server.models
                ]
                self.reply_json({"object": "list", "data": data})
            else:
                self.reply_json({"error": "not_found"}, 404)

    return Handler


@contextmanager
def llm_server() -> Iterator[LLMServer]:
    llm = LLMServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(llm))
    httpd.daemon_threads = True
    llm.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield llm
    finally:
        httpd.shutdown()
        httpd.server_close()
