"""One turn of the agent: the session's history to the model, its answer streamed as UI message
chunks, its tool calls run in the session's sandbox, until it answers without tools or runs
out of steps.

Everything here emits chunks through `emit`; what becomes of them (the turn's log, the stored
message) is the runner's business.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes
from uuid import UUID

from django.conf import settings

from apps.agents.catalog import AGENT_TYPES
from apps.chat import uistream
from apps.chat.llm import (
    Finished,
    ModelTarget,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    Usage,
    completion_events,
    model_target,
    token_prices,
)
from apps.chat.masking import masked_value
from apps.chat.mcp import MCPServerConfig, agent_mcp_servers
from apps.chat.models import ChatTurn, Message
from apps.chat.tools import BUILTIN_TOOLS, ToolBox, changed_path, workspace_path
from apps.chat.tools_base import ToolError, ToolResult
from apps.core.streams import connection_released, off_loop
from apps.credentials.selectors import project_secrets
from apps.limits.budget import TurnBudget, estimated_tokens
from apps.sandbox.provider import SandboxProvider
from apps.workspaces.models import SandboxUseKind, Session, SessionActionKind, SessionStatus
from apps.workspaces.sandboxes import (
    sandbox_use_begin,
    sandbox_use_end,
    sandbox_use_renew,
    session_sandbox_provider,
)
from apps.workspaces.services import session_action_record
from discobot.redaction import SecretMasker

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a coding agent working in a git repository checked out at /workspace, inside a "
    "sandbox. Use the tools to read, search, change and run the code; paths are relative to "
    "/workspace. Keep the user's code working, and say briefly what you did."
)
# A new session's sandbox is made by its session_init job; the turn waits for it this long.
SESSION_READY_SECONDS = 300.0
SESSION_SETTLED = (SessionStatus.READY, SessionStatus.STOPPED)
FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content-filter",
    "tool_calls": "tool-calls",
}

Emit = Callable[[uistream.Chunk], None]


class TurnStopped(Exception):
    """A turn that cannot go on, with the words its user reads."""


@dataclass
class TurnContext:
    turn_id: UUID
    message_id: str
    last_seq: int  # of its log, when the runner took it
    session_pk: UUID
    project_id: str
    user_id: Any
    model: str
    allow_no_auth: bool
    system_prompt: str
    history: list[dict[str, Any]]
    mcp_servers: list[MCPServerConfig] = field(default_factory=list)
    # Masked out of the turn's tool results and stream (`apps.chat.masking`).
    secrets: list[str] = field(default_factory=list, repr=False)


def turn_model(session: Session) -> tuple[str, bool]:
    """The model the session names, else its agent's, else its agent type's default; and
    whether the type may run without a credential."""
    agent = session.agent
    # A session without an agent is the open agent type's (any provider, or the default endpoint).
    kind = next(
        (info for info in AGENT_TYPES if agent is not None and info["id"] == agent.agent_type),
        next(info for info in AGENT_TYPES if info["allowNoAuth"]),
    )
    model = session.model or (agent.model if agent is not None else "") or kind["defaultModel"]
    return model, kind["allowNoAuth"]


@connection_released
def turn_context(turn_id: UUID) -> TurnContext:
    turn = ChatTurn.objects.select_related("session__agent", "session__project").get(pk=turn_id)
    session = turn.session
    model, allow_no_auth = turn_model(session)
    messages = Message.objects.filter(session=session).exclude(message_id=turn.message_id)
    agent = session.agent
    return TurnContext(
        turn_id=turn.pk,
        message_id=turn.message_id,
        last_seq=turn.last_seq,
        session_pk=session.pk,
        project_id=session.project_id,
        user_id=turn.user_id,
        model=turn.model or model,
        allow_no_auth=allow_no_auth,
        system_prompt=(agent.system_prompt if agent is not None else "") or SYSTEM_PROMPT,
        history=[{"role": m.role, "parts": m.parts} for m in messages],
        mcp_servers=agent_mcp_servers(agent=agent) if agent is not None else [],
        secrets=project_secrets(project=session.project),
    )


# --- The stored history, in the model's words (OpenAI chat format) -------------------------------


def data_url_bytes(url: str) -> bytes | None:
    head, _, data = url.partition(",")
    if not head.startswith("data:"):
        return None
    try:
        return base64.b64decode(data) if head.endswith(";base64") else unquote_to_bytes(data)
    except (ValueError, binascii.Error):
        return None


def user_content(parts: list[dict[str, Any]], *, images: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for part in parts:
        if part.get("type") == "text" and part.get("text"):
            content.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "file":
            content.append(file_content(part, images=images))
    return content


def file_content(part: dict[str, Any], *, images: bool) -> dict[str, Any]:
    """An attachment as the model can take it: an image, a text file's text, else a note."""
    media_type = str(part.get("mediaType", ""))
    name = part.get("filename") or "a file"
    url = str(part.get("url", ""))
    if media_type.startswith("image/") and images:
        return {"type": "image_url", "image_url": {"url": url}}
    if media_type.startswith("text/") or media_type in ("application/json", "application/xml"):
        data = data_url_bytes(url)
        if data is not None:
            text = data.decode(errors="replace")
            return {"type": "text", "text": f"Attached file {name}:\n{text}"}
    return {"type": "text", "text": f"[The user attached {name} ({media_type}); not readable here]"}


def tool_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def assistant_messages(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored assistant message as the model's steps: per step, its text and tool calls,
    then one tool message per call (a call the turn never finished says so)."""
    steps: list[list[dict[str, Any]]] = [[]]
    for part in parts:
        if part.get("type") == "step-start":
            steps.append([])
        else:
            steps[-1].append(part)
    messages: list[dict[str, Any]] = []
    for step in steps:
        text = "".join(p.get("text", "") for p in step if p.get("type") == "text")
        tools = [p for p in step if p.get("type") == "dynamic-tool"]
        if not text and not tools:
            continue
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tools:
            message["tool_calls"] = [
                {
                    "id": p["toolCallId"],
                    "type": "function",
                    "function": {
                        "name": p["toolName"],
                        "arguments": json.dumps(p.get("input", {})),
                    },
                }
                for p in tools
            ]
        messages.append(message)
        for p in tools:
            if p.get("state") == "output-available":
                content = tool_text(p.get("output"))
            else:
                content = f"Error: {p.get('errorText') or 'the turn ended before this call ran'}"
            messages.append({"role": "tool", "tool_call_id": p["toolCallId"], "content": content})
    return messages


def model_messages(context: TurnContext, *, images: bool) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": context.system_prompt}]
    for stored in context.history:
        if stored["role"] == "user":
            content = user_content(stored["parts"], images=images)
            if content:
                messages.append({"role": "user", "content": content})
        elif stored["role"] == "assistant":
            messages.extend(assistant_messages(stored["parts"]))
    return messages


def accepts_images(model: str) -> bool:
    import litellm

    try:
        return bool(litellm.supports_vision(model=model))
    except Exception:  # a model litellm does not know: assume a modern one that does
        return True


# --- The turn ------------------------------------------------------------------------------------


@dataclass
class StepOutcome:
    finish_reason: str = "stop"
    calls: list[ToolCallDone] = field(default_factory=list)


@dataclass
class TurnTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    # False once a step had no price (then the turn's cost is 0: a part is no total).
    priced: bool = True
    provider: str = ""  # the credential's provider that paid

    def add(self, usage: Usage) -> None:
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cached_tokens += usage.cached_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        if usage.cost is None:
            self.priced = False
        else:
            self.cost += usage.cost

    def metadata(self, model: str) -> uistream.MessageMetadata:
        usage: uistream.UsageMetadata = {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
        }
        if self.cached_tokens:
            usage["cachedTokens"] = self.cached_tokens
        if self.reasoning_tokens:
            usage["reasoningTokens"] = self.reasoning_tokens
        return {
            "model": model,
            "usage": usage,
            "cost": self.cost if self.priced else 0.0,
            "priced": self.priced,
            "provider": self.provider,
        }


class AgentTurn:
    """Runs the turn, emitting its chunks; `run` raises TurnStopped or LLMError with the words
    the user reads, or CancelledError when cancelled. `totals` and `finish_reason` stay
    readable whatever ended it."""

    def __init__(self, context: TurnContext, emit: Emit, budget: TurnBudget | None = None) -> None:
        self.context = context
        self.emit = emit
        # Checked at every chunk: a crossed limit raises LimitCrossed at the next one.
        self.budget = budget if budget is not None else TurnBudget([])
        self.totals = TurnTotals()
        self.finish_reason = "stop"
        self.masker = SecretMasker(context.secrets)
        self._parts = 0

    def _part_id(self, kind: str) -> str:
        self._parts += 1
        return f"{kind}-{self._parts}"

    async def run(self) -> None:
        session, target = await off_loop(self._prepare)()
        self.totals.provider = target.provider
        self.budget.prices = await off_loop(token_prices)(target)
        # The sandbox comes up while the model starts answering: a tool call waits for it, and
        # so does the end of the turn (a sandbox that cannot start is said all the same).
        sandbox = TurnSandbox(session, self.context)
        try:
            async with contextlib.AsyncExitStack() as stack:
                box: ToolBox | None = None

                async def toolbox() -> ToolBox:
                    nonlocal box
                    if box is None:
                        tools = ToolBox(
                            await sandbox.provider(),
                            str(session.uuid),
                            self.context.mcp_servers,
                            masker=self.masker,
                        )
                        box = await stack.enter_async_context(tools)
                    return box

                # MCP servers list their own tools, and the stdio ones run in the sandbox.
                specs = BUILTIN_TOOLS
                if self.context.mcp_servers:
                    specs = await (await toolbox()).specs()
                messages = model_messages(self.context, images=accepts_images(self.context.model))
                for _ in range(settings.AGENT_MAX_STEPS):
                    self.emit(uistream.start_step())
                    outcome = await self._step(target, messages, specs)
                    self.finish_reason = outcome.finish_reason
                    if outcome.calls:
                        await self._tools(await toolbox(), outcome.calls, messages)
                    self.emit(uistream.finish_step())
                    if not outcome.calls:
                        break
                await sandbox.provider()
        finally:
            await sandbox.release()

    def _prepare(self) -> tuple[Session, ModelTarget]:
        """The session and where to call its model, in one trip to the database."""
        session = Session.objects.select_related("project", "workspace", "agent").get(
            pk=self.context.session_pk
        )
        target = model_target(
            project=session.project,
            model=self.context.model,
            allow_no_auth=self.context.allow_no_auth,
        )
        return session, target

    async def _step(
        self, target: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> StepOutcome:
        outcome = StepOutcome()
        text = reasoning = ""
        text_id = reasoning_id = ""
        budget = self.budget
        answered = counted = False
        events = completion_events(target, messages=messages, tools=tools)
        try:
            # Closed however the loop is left (a crossed limit, a cancel, a failure), and with
            # it the provider's HTTP stream.
            async with contextlib.aclosing(events):
                budget.step_begin(estimated_tokens(json.dumps(messages) + json.dumps(tools)))
                async for event in events:
                    answered = True
                    if isinstance(event, TextDelta):
                        if reasoning_id:
                            self.emit(uistream.reasoning_end(reasoning_id))
                            reasoning_id = ""
                        if not text_id:
                            text_id = self._part_id("text")
                            self.emit(uistream.text_start(text_id))
                        text += event.text
                        self.emit(uistream.text_delta(text_id, event.text))
                        budget.output(event.text)
                    elif isinstance(event, ReasoningDelta):
                        if not reasoning_id:
                            reasoning_id = self._part_id("reasoning")
                            self.emit(uistream.reasoning_start(reasoning_id))
                        reasoning += event.text
                        self.emit(uistream.reasoning_delta(reasoning_id, event.text))
                        budget.output(event.text)
                    elif isinstance(event, ToolCallStart):
                        self.emit(uistream.tool_input_start(event.call_id, event.name))
                    elif isinstance(event, ToolCallDelta):
                        self.emit(uistream.tool_input_delta(event.call_id, event.arguments_delta))
                        budget.output(event.arguments_delta)
                    elif isinstance(event, ToolCallDone):
                        outcome.calls.append(event)
                    elif isinstance(event, Usage):
                        counted = True
                        self.totals.add(event)
                        budget.step_end(event.input_tokens, event.output_tokens, event.cost)
                    elif isinstance(event, Finished):
                        outcome.finish_reason = FINISH_REASONS.get(event.reason, "other")
        finally:
            if not counted:
                self._uncounted_step(answered=answered)
            if reasoning_id:
                self.emit(uistream.reasoning_end(reasoning_id))
            if text_id:
                self.emit(uistream.text_end(text_id))
        if outcome.calls:
            messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [
                        {
                            "id": call.call_id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(call.arguments),
                            },
                        }
                        for call in outcome.calls
                    ],
                }
            )
        return outcome

    def _uncounted_step(self, *, answered: bool) -> None:
        """A step the provider did not count (cut short, or a provider that never says): one
        it answered costs its estimate, in the turn's usage as in its limits; one it never
        answered costs nothing."""
        budget = self.budget
        if not answered:
            budget.step_end(0, 0, 0.0, checked=False)
            return
        input_tokens, output_tokens, cost = budget.step_estimate()
        budget.step_end(input_tokens, output_tokens, cost, checked=False)
        priced = budget.prices is not None
        self.totals.add(Usage(input_tokens, output_tokens, 0, 0, cost if priced else None))

    async def _tools(
        self, box: ToolBox, calls: list[ToolCallDone], messages: list[dict[str, Any]]
    ) -> None:
        for call in calls:
            started = time.monotonic()
            if call.invalid:
                words = f"The arguments are not valid: {call.invalid}"
                self.emit(uistream.tool_input_error(call.call_id, call.name, {}, words))
                content = f"Error: {words}"
                result = ToolResult(output=None, error=words)
                files: list[str] = []
            else:
                self.emit(uistream.tool_input_available(call.call_id, call.name, call.arguments))
                before = await box.changes() if call.name == "Bash" else set()
                result = await box.call(call.name, call.arguments)
                if call.name == "Bash":
                    files = sorted({changed_path(line) for line in await box.changes() - before})
                else:
                    files = touched_files(call)
                if result.error is None:
                    self.emit(uistream.tool_output_available(call.call_id, result.output))
                    content = tool_text(result.output)
                else:
                    self.emit(uistream.tool_output_error(call.call_id, result.error))
                    content = f"Error: {result.error}"
            messages.append({"role": "tool", "tool_call_id": call.call_id, "content": content})
            await self._record(call, result, files, time.monotonic() - started)

    async def _record(
        self, call: ToolCallDone, result: ToolResult, files: list[str], seconds: float
    ) -> None:
        """The call in the session's audit trail; a trail that cannot be written is logged,
        the turn goes on."""
        output = result.output if isinstance(result.output, dict) else {}
        exit_code = output.get("exitCode") if call.name == "Bash" else None
        try:
            await off_loop(session_action_record)(
                session_pk=self.context.session_pk,
                kind=SessionActionKind.TOOL_CALL,
                user_id=self.context.user_id,
                message_id=self.context.message_id,
                tool=call.name,
                arguments=masked_value(call.arguments, self.masker),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                error=result.error or "",
                files=files,
                duration_ms=round(seconds * 1000),
                provider=self.totals.provider,
            )
        except Exception:
            logger.exception("could not record a tool call of chat turn %s", self.context.turn_id)


def touched_files(call: ToolCallDone) -> list[str]:
    """The file a Write or Edit call changed, relative to the working copy."""
    if call.name not in ("Write", "Edit"):
        return []
    try:
        return [workspace_path(str(call.arguments.get("file_path", "")))]
    except ToolError:  # refused: it touched nothing
        return []


def error_words(error: BaseException) -> str:
    return str(getattr(error, "message", "") or error) or type(error).__name__


async def session_settled(session: Session) -> Session:
    """The session once its sandbox is made (a new session's session_init job makes it)."""
    read = off_loop(
        lambda: Session.objects.select_related("project", "workspace", "agent").get(pk=session.pk)
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SESSION_READY_SECONDS
    while True:
        if session.status in SESSION_SETTLED:
            return session
        if session.status == SessionStatus.ERROR:
            words = session.error_message or "its setup failed"
            raise TurnStopped(f"The session's sandbox could not start: {words}")
        if session.status == SessionStatus.REMOVING or loop.time() > deadline:
            raise TurnStopped(
                f"The session's sandbox could not start: the session is {session.status}"
            )
        await asyncio.sleep(0.5)
        session = await read()


class TurnSandbox:
    """The session's sandbox for one turn, made ready (and held against the idle policy) in
    the background; `provider` waits for it, `release` lets it go."""

    def __init__(self, session: Session, context: TurnContext) -> None:
        self.context = context
        self.use: Any = None
        self.renewing: asyncio.Task[None] | None = None
        self.ready = asyncio.create_task(self._ready(session))

    async def provider(self) -> SandboxProvider:
        return await self.ready

    async def _ready(self, session: Session) -> SandboxProvider:
        session = await session_settled(session)
        try:
            self.use = await off_loop(self._hold)(session)
            self.renewing = asyncio.create_task(keep_sandbox(self.use))
            return await off_loop(session_sandbox_provider)(session)
        except Exception as error:
            raise TurnStopped(
                f"The session's sandbox could not start: {error_words(error)}"
            ) from None

    def _hold(self, session: Session) -> Any:
        from apps.accounts.models import User

        user_id = self.context.user_id
        user = User.objects.filter(pk=user_id).first() if user_id else None
        return sandbox_use_begin(session=session, kind=SandboxUseKind.AGENT_TURN, user=user)

    async def release(self) -> None:
        self.ready.cancel()
        with contextlib.suppress(BaseException):  # its failure was said where it was awaited
            await self.ready
        if self.renewing is not None:
            self.renewing.cancel()
        if self.use is not None:
            await off_loop(sandbox_use_end)(self.use)


async def keep_sandbox(use: Any) -> None:
    """Renews the turn's hold on the sandbox while it runs."""
    while True:
        await asyncio.sleep(settings.SANDBOX_USE_LEASE_SECONDS / 3)
        try:
            await off_loop(sandbox_use_renew)(use)
        except Exception:  # a missed renewal only lets the idle policy count; try again later
            logger.warning("could not renew the sandbox hold of a chat turn", exc_info=True)
