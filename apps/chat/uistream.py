"""The AI SDK 6 UI message stream, v1 (contract §4): its chunks, its SSE frames, and the
assistant message the chunks make.

AI SDK 6 checks every chunk against a strict schema (`uiMessageChunkSchema`): a field it does
not define breaks the web app's stream, so the builders here emit exactly the SDK's fields.
Tool chunks carry `dynamic: true`, the only tool parts the web app renders.
`MessageAssembler` rebuilds the message as the SDK's `readUIMessageStream` does, so that the
stored message is the one the client saw.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NotRequired, TypedDict

Chunk = dict[str, Any]
UIMessage = dict[str, Any]

DONE = "[DONE]"
DONE_FRAME = f"data: {DONE}\n\n"
HEADERS = {
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
    "x-vercel-ai-ui-message-stream": "v1",
}


class UsageMetadata(TypedDict):
    inputTokens: int
    outputTokens: int
    cachedTokens: NotRequired[int]
    reasoningTokens: NotRequired[int]


class MessageMetadata(TypedDict):
    model: str
    usage: UsageMetadata
    # US dollars; 0 when `priced` is false (no price known: a subscription, a base URL of its
    # own without prices, the operator's endpoint).
    cost: NotRequired[float]
    priced: NotRequired[bool]
    provider: NotRequired[str]  # the credential's provider that paid ("" the default endpoint)
    interrupted: NotRequired[bool]
    # "user" (cancelled), "error", "runner" (its process died), "limit" (a limit was crossed)
    stoppedBy: NotRequired[str]
    limit: NotRequired[dict[str, Any]]  # the limit that stopped it, as GET .../limits shows it


def frame(chunk: Chunk | str) -> str:
    """One SSE data-only frame; `[DONE]` ends the stream."""
    data = chunk if isinstance(chunk, str) else json.dumps(chunk, separators=(",", ":"))
    return f"data: {data}\n\n"


def start(message_id: str) -> Chunk:
    return {"type": "start", "messageId": message_id}


def start_step() -> Chunk:
    return {"type": "start-step"}


def finish_step() -> Chunk:
    return {"type": "finish-step"}


def text_start(part_id: str) -> Chunk:
    return {"type": "text-start", "id": part_id}


def text_delta(part_id: str, delta: str) -> Chunk:
    return {"type": "text-delta", "id": part_id, "delta": delta}


def text_end(part_id: str) -> Chunk:
    return {"type": "text-end", "id": part_id}


def reasoning_start(part_id: str) -> Chunk:
    return {"type": "reasoning-start", "id": part_id}


def reasoning_delta(part_id: str, delta: str) -> Chunk:
    return {"type": "reasoning-delta", "id": part_id, "delta": delta}


def reasoning_end(part_id: str) -> Chunk:
    return {"type": "reasoning-end", "id": part_id}


def tool_input_start(call_id: str, tool_name: str) -> Chunk:
    return {
        "type": "tool-input-start",
        "toolCallId": call_id,
        "toolName": tool_name,
        "dynamic": True,
    }


def tool_input_delta(call_id: str, delta: str) -> Chunk:
    return {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": delta}


def tool_input_available(call_id: str, tool_name: str, tool_input: Any) -> Chunk:
    return {
        "type": "tool-input-available",
        "toolCallId": call_id,
        "toolName": tool_name,
        "input": tool_input,
        "dynamic": True,
    }


def tool_input_error(call_id: str, tool_name: str, tool_input: Any, error_text: str) -> Chunk:
    return {
        "type": "tool-input-error",
        "toolCallId": call_id,
        "toolName": tool_name,
        "input": tool_input,
        "errorText": error_text,
        "dynamic": True,
    }


def tool_output_available(call_id: str, output: Any) -> Chunk:
    return {
        "type": "tool-output-available",
        "toolCallId": call_id,
        "output": output,
        "dynamic": True,
    }


def tool_output_error(call_id: str, error_text: str) -> Chunk:
    return {
        "type": "tool-output-error",
        "toolCallId": call_id,
        "errorText": error_text,
        "dynamic": True,
    }


def file(url: str, media_type: str) -> Chunk:
    return {"type": "file", "url": url, "mediaType": media_type}


def finish(metadata: MessageMetadata, finish_reason: str | None = None) -> Chunk:
    chunk: Chunk = {"type": "finish", "messageMetadata": dict(metadata)}
    if finish_reason is not None:
        chunk["finishReason"] = finish_reason
    return chunk


def error(error_text: str) -> Chunk:
    return {"type": "error", "errorText": error_text}


# PostgreSQL refuses a tsvector over 1 MB; this many characters of text stay well under it.
SEARCH_TEXT_MAX = 100_000


def searchable_text(parts: list[dict[str, Any]]) -> str:
    """A message's words as plain text for search: its text and reasoning first, then its
    file names and its tools' names, inputs, outputs and errors; at most SEARCH_TEXT_MAX
    characters."""
    said, done = [], []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type", "")
        if kind in ("text", "reasoning"):
            said.append(part.get("text"))
        elif kind == "file":
            done.append(part.get("filename"))
        elif kind == "dynamic-tool" or str(kind).startswith("tool-"):
            done += [part.get("toolName"), part.get("input"), part.get("output")]
            done.append(part.get("errorText"))
    texts = [
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for value in (*said, *done)
        if value is not None
    ]
    return "\n".join(text for text in texts if text)[:SEARCH_TEXT_MAX]


class MessageAssembler:
    """The assistant message the chunks describe, part by part as `readUIMessageStream` builds
    it (parts in arrival order, text and reasoning `done` at their end, tool parts in their
    last state, metadata merged)."""

    def __init__(self, message_id: str = "") -> None:
        self.message_id = message_id
        self.parts: list[dict[str, Any]] = []
        self.metadata: dict[str, Any] | None = None
        self._text: dict[str, dict[str, Any]] = {}
        self._reasoning: dict[str, dict[str, Any]] = {}
        self._tools: dict[str, dict[str, Any]] = {}

    def add(self, chunk: Chunk) -> None:
        kind = chunk["type"]
        if kind == "start":
            self.message_id = chunk.get("messageId", self.message_id)
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind in ("finish", "message-metadata"):
            self._merge_metadata(chunk.get("messageMetadata"))
        elif kind == "start-step":
            self.parts.append({"type": "step-start"})
        elif kind == "finish-step":
            self._text.clear()
            self._reasoning.clear()
        elif kind in ("text-start", "reasoning-start"):
            part = {"type": kind.removesuffix("-start"), "text": "", "state": "streaming"}
            (self._text if kind == "text-start" else self._reasoning)[chunk["id"]] = part
            self.parts.append(part)
        elif kind in ("text-delta", "reasoning-delta"):
            (self._text if kind == "text-delta" else self._reasoning)[chunk["id"]]["text"] += chunk[
                "delta"
            ]
        elif kind in ("text-end", "reasoning-end"):
            part = (self._text if kind == "text-end" else self._reasoning).pop(chunk["id"])
            part["state"] = "done"
        elif kind == "file":
            self.parts.append(
                {"type": "file", "mediaType": chunk["mediaType"], "url": chunk["url"]}
            )
        elif kind.startswith("tool-"):
            self._tool(chunk)

    def _tool(self, chunk: Chunk) -> None:
        kind, call_id = chunk["type"], chunk["toolCallId"]
        if kind == "tool-input-start":
            part = {
                "type": "dynamic-tool",
                "toolName": chunk["toolName"],
                "toolCallId": call_id,
                "state": "input-streaming",
            }
            self._tools[call_id] = part
            self.parts.append(part)
            return
        part = self._tools[call_id]
        if kind == "tool-input-delta":
            part["rawInput"] = part.get("rawInput", "") + chunk["inputTextDelta"]
        elif kind == "tool-input-available":
            part.update(state="input-available", input=chunk["input"])
        elif kind == "tool-input-error":
            part.update(state="output-error", input=chunk["input"], errorText=chunk["errorText"])
        elif kind == "tool-output-available":
            part.update(state="output-available", output=chunk["output"])
        elif kind == "tool-output-error":
            part.update(state="output-error", errorText=chunk["errorText"])

    def _merge_metadata(self, metadata: Any) -> None:
        if metadata is None:
            return
        if isinstance(self.metadata, dict) and isinstance(metadata, dict):
            self.metadata = {**self.metadata, **metadata}
        else:
            self.metadata = metadata

    def message(self) -> UIMessage:
        """The message so far, as JSON (the SDK keeps the streamed tool input text only
        while it streams; a part whose input never completed keeps none)."""
        parts = []
        for part in self.parts:
            shown = {key: value for key, value in part.items() if key != "rawInput"}
            parts.append(copy.deepcopy(shown))
        message: UIMessage = {"id": self.message_id, "role": "assistant", "parts": parts}
        if self.metadata is not None:
            message["metadata"] = copy.deepcopy(self.metadata)
        return message

    def tool_calls_open(self) -> list[dict[str, Any]]:
        """Tool parts still waiting for their output (a turn that stopped mid-step)."""
        return [
            part
            for part in self._tools.values()
            if part["state"] in ("input-streaming", "input-available")
        ]
