"""The turn runner: in every `manage.py worker`, a thread with its own event loop generating
many chat turns at once, detached from the web process that asked for them.

A runner claims pending turns with a conditional update (so two workers never take the same),
holds them with a lease it renews, and looks for cancels; a new turn wakes it at once through
the channel layer (with Redis; it also polls). A turn whose lease ran out lost its runner (the
process died): any runner saves its message as interrupted and ends its log with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.chat import uistream
from apps.chat.agent import AgentTurn, TurnContext, TurnStopped, error_words, turn_context
from apps.chat.llm import LLMError
from apps.chat.log import Batch, chunks_append, logs_write, turn_chunks, turn_group
from apps.chat.masking import ChunkMasker
from apps.chat.models import ChatTurn, Message, MessageRole, TurnStatus, TurnUsage
from apps.chat.wakeups import RUNNERS_GROUP
from apps.core.database import DATABASE_UNAVAILABLE, Backoff, database_retry, database_unavailable
from apps.core.jobs import worker_name
from apps.core.streams import EventWakeups, off_loop, stream_announce
from apps.limits.budget import LimitCrossed, TurnBudget, turn_budget_open
from discobot.redaction import SecretMasker

logger = logging.getLogger(__name__)

# The runner's own calls (claims, cancels, recovery) and its lease renewals have threads of
# their own: they must not wait behind the turns' calls.
RUNNER_CALLS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-runner")
LEASE_CALLS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-leases")
RUNNER_DIED = "The agent stopped: the server process generating this answer ended. Send it again."
CANCELLED_CALL = "Cancelled before it finished"
COST_PLACES = Decimal("1e-10")  # TurnUsage.cost's decimal places


# --- The turns' rows -----------------------------------------------------------------------------


def lease_end() -> Any:
    return timezone.now() + timedelta(seconds=settings.CHAT_TURN_LEASE_SECONDS)


def turns_claim(*, runner_name: str, limit: int) -> list[UUID]:
    pending = ChatTurn.objects.filter(status=TurnStatus.PENDING).order_by("created_at")
    claimed = []
    for pk in pending.values_list("pk", flat=True)[:limit]:
        taken = ChatTurn.objects.filter(pk=pk, status=TurnStatus.PENDING).update(
            status=TurnStatus.RUNNING, runner=runner_name, lease_until=lease_end()
        )
        if taken:
            claimed.append(pk)
    return claimed


def turns_renew(*, runner_name: str, turn_ids: list[UUID]) -> None:
    ChatTurn.objects.filter(pk__in=turn_ids, runner=runner_name, status=TurnStatus.RUNNING).update(
        lease_until=lease_end()
    )


def turns_cancelled(turn_ids: list[UUID]) -> list[UUID]:
    return list(
        ChatTurn.objects.filter(pk__in=turn_ids, cancel_requested=True).values_list("pk", flat=True)
    )


@transaction.atomic
def turn_end(
    *, turn_id: UUID, runner_name: str, status: TurnStatus, message: uistream.UIMessage
) -> bool:
    """Saves the assistant message and the turn's end; False when the turn is no longer this
    runner's (its lease ran out and another runner saved it as interrupted)."""
    ended = ChatTurn.objects.filter(
        pk=turn_id, runner=runner_name, status=TurnStatus.RUNNING
    ).update(status=status, finished_at=timezone.now(), lease_until=None, caller_tokens=b"")
    if ended:
        message_save(turn_id=turn_id, message=message)
    return bool(ended)


def message_save(*, turn_id: UUID, message: uistream.UIMessage) -> None:
    """Saves the turn's assistant message, and what the turn used and cost."""
    turn = ChatTurn.objects.select_related("session").get(pk=turn_id)
    metadata = message.get("metadata")
    Message.objects.update_or_create(
        session_id=turn.session_id,
        message_id=message["id"],
        defaults={
            "role": MessageRole.ASSISTANT,
            "parts": message["parts"],
            "metadata": metadata,
            "search_text": uistream.searchable_text(message["parts"]),
        },
    )
    known: dict[str, Any] = dict(metadata) if isinstance(metadata, dict) else {}
    usage = known.get("usage") or {}
    TurnUsage.objects.create(
        project_id=turn.session.project_id,
        session_id=turn.session_id,
        user_id=turn.user_id,
        message_id=message["id"],
        model=known.get("model") or turn.model,
        provider=known.get("provider", ""),
        input_tokens=usage.get("inputTokens", 0),
        output_tokens=usage.get("outputTokens", 0),
        cached_tokens=usage.get("cachedTokens", 0),
        reasoning_tokens=usage.get("reasoningTokens", 0),
        cost=Decimal(repr(float(known.get("cost", 0)))).quantize(COST_PLACES),
        priced=known.get("priced", False),
    )


def turns_recover(*, alive: list[UUID]) -> int:
    """Saves the turns whose runner died as interrupted, and ends their logs. `alive`: the
    turns the calling runner holds, which it knows are not (their lease may have run out while
    a renewal waited for the database)."""
    recovered = 0
    stale = ChatTurn.objects.filter(
        status=TurnStatus.RUNNING, lease_until__lt=timezone.now()
    ).exclude(pk__in=alive)
    for turn in stale:
        with transaction.atomic():
            taken = ChatTurn.objects.filter(
                pk=turn.pk, status=TurnStatus.RUNNING, lease_until__lt=timezone.now()
            ).update(
                status=TurnStatus.INTERRUPTED,
                finished_at=timezone.now(),
                lease_until=None,
                caller_tokens=b"",
            )
            if not taken:
                continue
            # Read again under the row's lock: its runner may have written since the query.
            turn.refresh_from_db(fields=["last_seq"])
            assembler = uistream.MessageAssembler(turn.message_id)
            chunks = [chunk for chunk in turn_chunks(turn.pk) if isinstance(chunk, dict)]
            for chunk in chunks:
                assembler.add(chunk)
            ending = [*calls_closed(assembler), uistream.error(RUNNER_DIED)]
            ending.append(uistream.finish(interrupted(stopped_metadata(assembler, turn), "runner")))
            for chunk in ending:
                assembler.add(chunk)
            message_save(turn_id=turn.pk, message=assembler.message())
            chunks_append(turn=turn, chunks=[*ending, uistream.DONE])
        recovered += 1
    return recovered


def stopped_metadata(
    assembler: uistream.MessageAssembler, turn: ChatTurn
) -> uistream.MessageMetadata:
    known = assembler.metadata if isinstance(assembler.metadata, dict) else {}
    return {
        "model": known.get("model", turn.model),
        "usage": known.get("usage", {"inputTokens": 0, "outputTokens": 0}),
        # The finish chunk that would have priced it never came.
        "cost": known.get("cost", 0.0),
        "priced": known.get("priced", False),
        "provider": known.get("provider", ""),
    }


def interrupted(metadata: uistream.MessageMetadata, by: str) -> uistream.MessageMetadata:
    metadata["interrupted"] = True
    metadata["stoppedBy"] = by
    return metadata


def calls_closed(assembler: uistream.MessageAssembler) -> list[uistream.Chunk]:
    """An error for each tool call the turn left without its output; a call cut while its
    input streamed keeps what had arrived of it (a stored tool part always has an input)."""
    return [
        uistream.tool_output_error(part["toolCallId"], CANCELLED_CALL)
        if part["state"] == "input-available"
        else uistream.tool_input_error(
            part["toolCallId"], part["toolName"], part.get("input", {}), CANCELLED_CALL
        )
        for part in assembler.tool_calls_open()
    ]


# --- One turn ------------------------------------------------------------------------------------


@dataclass
class TurnLog:
    """What the runner knows of one turn's log."""

    last_seq: int
    pending: list[uistream.Chunk | str] = field(default_factory=list)
    writing: bool = False
    taken: bool = False
    announced: asyncio.Task[None] | None = None


class TurnLogs:
    """The logs of the runner's turns, written by one task: every chunk the turns produced
    while the last write was under way goes in the next, one transaction for all of them, so
    a fast model costs few writes and many turns few commits. Each turn's batch, once
    committed, is announced to its streams with its frames (relaying it needs no read); a
    turn's announcements go out in order, while the next write is under way."""

    def __init__(self) -> None:
        self.logs: dict[UUID, TurnLog] = {}
        self.ready = asyncio.Event()
        self.written = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def open(self, turn_id: UUID, last_seq: int) -> None:
        if self.task is None:  # the runner's loop is running by now
            self.task = asyncio.create_task(self._write_forever())
        self.logs[turn_id] = TurnLog(last_seq=last_seq)

    def append(self, turn_id: UUID, chunk: uistream.Chunk | str) -> None:
        log = self.logs[turn_id]
        if not log.taken:
            log.pending.append(chunk)
            self.ready.set()

    async def close(self, turn_id: UUID) -> None:
        """Once the turn's chunks are written and announced, forgets the turn."""
        log = self.logs[turn_id]
        while log.pending or log.writing:
            written = self.written
            await written.wait()
        if log.announced is not None:
            await log.announced
        del self.logs[turn_id]

    async def _write_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            batches = {turn_id: log for turn_id, log in self.logs.items() if log.pending}
            chunks = {turn_id: log.pending for turn_id, log in batches.items()}
            for log in batches.values():
                log.pending, log.writing = [], True
            try:
                written = await off_loop(logs_write_retried)(
                    {turn_id: (batches[turn_id].last_seq, chunks[turn_id]) for turn_id in batches}
                )
            except Exception:  # lost: the turns' leases run out and they are saved as interrupted
                logger.exception("could not write the chunks of %d chat turns", len(batches))
                written = dict.fromkeys(batches)
            for turn_id, log in batches.items():
                log.writing = False
                last_seq = written[turn_id]
                if last_seq is None:
                    logger.warning("chat turn %s: its log is no longer this runner's", turn_id)
                    log.taken, log.pending = True, []
                    continue
                log.last_seq = last_seq
                frames = [uistream.frame(chunk) for chunk in chunks[turn_id]]
                log.announced = turn_announce(turn_id, last_seq, frames, after=log.announced)
            self.written.set()
            self.written = asyncio.Event()


def logs_write_retried(batches: dict[UUID, Batch]) -> dict[UUID, int | None]:
    return database_retry(lambda: logs_write(batches))


def turn_announce(
    turn_id: UUID, seq: int, frames: list[str], *, after: asyncio.Task[None] | None
) -> asyncio.Task[None]:
    """Announces the turn's frames up to `seq` once the announcement `after` went out."""

    async def announce() -> None:
        if after is not None:
            await after
        await stream_announce(group=turn_group(turn_id), seq=seq, frames=frames)

    return asyncio.create_task(announce())


class TurnRunner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.logs = TurnLogs()
        self.turns: dict[UUID, asyncio.Task[None]] = {}
        self.generating: dict[UUID, asyncio.Task[None]] = {}
        self.stopped_by: dict[UUID, str] = {}
        # The limit that stopped a turn, as its message's metadata names it.
        self.limits_crossed: dict[UUID, dict[str, Any]] = {}

    async def run(self, stop: threading.Event) -> None:
        wakeups = EventWakeups(RUNNERS_GROUP)
        await wakeups.join()
        loop = asyncio.get_running_loop()
        # A stopping worker wakes its runner, whatever the poll interval.
        threading.Thread(target=stop_wakes, args=(stop, loop, wakeups), daemon=True).start()
        recover_at = 0.0
        backoff = Backoff()
        renewing = asyncio.create_task(self._renew_forever())
        try:
            while not stop.is_set():
                wait = settings.CHAT_RUNNER_POLL_SECONDS
                try:
                    await self._claim()
                    await self._cancels()
                    if loop.time() >= recover_at:
                        recover_at = loop.time() + settings.CHAT_TURN_LEASE_SECONDS / 2
                        await off_loop(turns_recover, RUNNER_CALLS)(alive=list(self.turns))
                except DATABASE_UNAVAILABLE as error:
                    # Reported (once per outage) off the loop: it closes a connection.
                    await off_loop(database_unavailable)(error)
                    wait = backoff.next_delay()
                except Exception:  # the turns in hand go on; the next round tries again
                    logger.exception("the chat runner's round failed")
                    wait = backoff.next_delay()
                else:
                    backoff.reset()
                await wakeups.wait(wait)
        finally:
            renewing.cancel()
            await wakeups.leave()
            # Stopping: the turns in hand are saved as interrupted, and their logs ended.
            for turn_id in list(self.turns):
                self._stop(turn_id, "runner")
            await asyncio.gather(*self.turns.values(), return_exceptions=True)

    async def _renew_forever(self) -> None:
        """Renews the leases of the turns in hand every third of a lease, whatever the rest
        of the runner is waiting for (a lease that ran out would have them saved as
        interrupted while they still run)."""
        while True:
            try:
                await off_loop(turns_renew, LEASE_CALLS)(
                    runner_name=self.name, turn_ids=list(self.turns)
                )
            except DATABASE_UNAVAILABLE:
                pass  # the runner's round reports the outage
            except Exception:
                logger.exception("could not renew the leases of the chat turns in hand")
            await asyncio.sleep(settings.CHAT_TURN_LEASE_SECONDS / 3)

    async def _claim(self) -> None:
        room = settings.CHAT_RUNNER_MAX_TURNS - len(self.turns)
        if room <= 0:
            return
        claimed = await off_loop(turns_claim, RUNNER_CALLS)(runner_name=self.name, limit=room)
        for turn_id in claimed:
            task = asyncio.create_task(self._turn(turn_id))
            self.turns[turn_id] = task
            task.add_done_callback(partial(self._turn_done, turn_id))

    def _turn_done(self, turn_id: UUID, task: asyncio.Task[None]) -> None:
        self.turns.pop(turn_id, None)

    async def _cancels(self) -> None:
        if self.turns:
            for turn_id in await off_loop(turns_cancelled, RUNNER_CALLS)(list(self.turns)):
                self._stop(turn_id, "user")

    def _stop(self, turn_id: UUID, by: str) -> None:
        self.stopped_by.setdefault(turn_id, by)
        generating = self.generating.get(turn_id)
        if generating is not None:
            generating.cancel()

    async def _turn(self, turn_id: UUID) -> None:
        logs = self.logs
        opened = False
        try:
            context: TurnContext = await off_loop(turn_context)(turn_id)
            logs.open(turn_id, context.last_seq)
            opened = True
            assembler = uistream.MessageAssembler(context.message_id)

            masked = ChunkMasker(SecretMasker(context.secrets))

            def emit(chunk: uistream.Chunk) -> None:
                for sent in masked(chunk):
                    assembler.add(sent)
                    logs.append(turn_id, sent)

            assembler.add(uistream.start(context.message_id))  # in the log since the turn began
            budget: TurnBudget = await off_loop(turn_budget_open)(
                project_id=context.project_id, user_id=context.user_id
            )
            agent = AgentTurn(context, emit, budget)
            status, error_text = await self._generate(turn_id, agent)
            await self._charge(turn_id, budget)
            ending = calls_closed(assembler)
            if error_text:
                ending.append(uistream.error(error_text))
            metadata = agent.totals.metadata(context.model)
            by = self.stopped_by.pop(turn_id, "error" if error_text else "")
            if by:
                interrupted(metadata, by)
            crossed = self.limits_crossed.pop(turn_id, None)
            if crossed is not None:
                metadata["limit"] = crossed
            finish_reason = "error" if error_text else agent.finish_reason
            if status == TurnStatus.CANCELLED:
                finish_reason = "other"
            ending.append(uistream.finish(metadata, finish_reason))
            for chunk in ending:
                emit(chunk)
            # Saved before `[DONE]`: a client that saw the end finds the message stored.
            message = assembler.message()
            await off_loop(database_retry)(
                lambda: turn_end(
                    turn_id=turn_id, runner_name=self.name, status=status, message=message
                )
            )
            logs.append(turn_id, uistream.DONE)
        except Exception:
            logger.exception("chat turn %s failed", turn_id)
        finally:
            self.generating.pop(turn_id, None)
            if opened:
                await logs.close(turn_id)

    async def _generate(self, turn_id: UUID, agent: AgentTurn) -> tuple[TurnStatus, str]:
        """Runs the agent; the turn's status and the error its user reads ("" when none)."""
        generating = asyncio.create_task(agent.run())
        self.generating[turn_id] = generating
        try:
            await generating
        except asyncio.CancelledError:
            if self.stopped_by.get(turn_id) == "user":
                return TurnStatus.CANCELLED, ""
            return TurnStatus.INTERRUPTED, "The agent stopped: the server is shutting down."
        except LimitCrossed as error:
            self.stopped_by[turn_id] = "limit"
            self.limits_crossed[turn_id] = error.described
            return TurnStatus.INTERRUPTED, error.message
        except (LLMError, TurnStopped) as error:
            return TurnStatus.FAILED, error_words(error)
        except Exception as error:
            logger.exception("chat turn %s failed", turn_id)
            return TurnStatus.FAILED, f"The agent failed: {error_words(error)}"
        return TurnStatus.DONE, ""

    async def _charge(self, turn_id: UUID, budget: TurnBudget) -> None:
        """The rest of what the turn spent, to its limits' counters; a charge that cannot be
        made is logged, the turn's message is saved all the same."""
        try:
            await budget.close()
        except Exception:
            logger.exception("could not charge chat turn %s to its limits", turn_id)


def stop_wakes(
    stop: threading.Event, loop: asyncio.AbstractEventLoop, wakeups: EventWakeups
) -> None:
    stop.wait()
    with contextlib.suppress(RuntimeError):  # the loop is closed already
        loop.call_soon_threadsafe(wakeups.inbox.put, {"group": RUNNERS_GROUP, "seq": 0})


def chat_turns_run(stop: threading.Event) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(TurnRunner(f"{worker_name()}:chat").run(stop))
