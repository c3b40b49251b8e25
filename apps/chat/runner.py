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
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.chat import uistream
from apps.chat.agent import AgentTurn, TurnContext, TurnStopped, error_words, turn_context
from apps.chat.llm import LLMError
from apps.chat.log import LogTaken, chunks_append, chunks_write, turn_chunks, turn_group
from apps.chat.models import ChatTurn, Message, MessageRole, TurnStatus
from apps.core.database import DATABASE_UNAVAILABLE, Backoff, database_retry, database_unavailable
from apps.core.jobs import worker_name
from apps.core.runners import runner
from apps.core.streams import EventWakeups, off_loop, stream_announce, stream_wake

logger = logging.getLogger(__name__)

RUNNERS_GROUP = "chat-runners"
# The runner's own calls (claims, cancels, recovery) and its lease renewals have threads of
# their own: they must not wait behind the turns' calls.
RUNNER_CALLS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-runner")
LEASE_CALLS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-leases")
RUNNER_DIED = "The agent stopped: the server process generating this answer ended. Send it again."
CANCELLED_CALL = "Cancelled before it finished"


def runners_wake() -> None:
    """Tells the turn runners (in every worker, with Redis) that a turn is waiting."""
    stream_wake(group=RUNNERS_GROUP, seq=0)


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
    ).update(status=status, finished_at=timezone.now(), lease_until=None)
    if ended:
        message_save(turn_id=turn_id, message=message)
    return bool(ended)


def message_save(*, turn_id: UUID, message: uistream.UIMessage) -> None:
    session_pk = ChatTurn.objects.values_list("session_id", flat=True).get(pk=turn_id)
    Message.objects.update_or_create(
        session_id=session_pk,
        message_id=message["id"],
        defaults={
            "role": MessageRole.ASSISTANT,
            "parts": message["parts"],
            "metadata": message.get("metadata"),
        },
    )


def turns_recover() -> int:
    """Saves the turns whose runner died as interrupted, and ends their logs."""
    recovered = 0
    stale = ChatTurn.objects.filter(status=TurnStatus.RUNNING, lease_until__lt=timezone.now())
    for turn in stale:
        with transaction.atomic():
            taken = ChatTurn.objects.filter(
                pk=turn.pk, status=TurnStatus.RUNNING, lease_until__lt=timezone.now()
            ).update(status=TurnStatus.INTERRUPTED, finished_at=timezone.now(), lease_until=None)
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
    }


def interrupted(metadata: uistream.MessageMetadata, by: str) -> uistream.MessageMetadata:
    metadata["interrupted"] = True
    metadata["stoppedBy"] = by
    return metadata


def calls_closed(assembler: uistream.MessageAssembler) -> list[uistream.Chunk]:
    """An error for each tool call the turn left without its output."""
    return [
        uistream.tool_output_error(part["toolCallId"], CANCELLED_CALL)
        for part in assembler.tool_calls_open()
    ]


# --- One turn ------------------------------------------------------------------------------------


class ChunkWriter:
    """Appends a turn's chunks to its log in order, in batches: the chunks that arrive while
    one write is under way go in the next, so a fast model costs few writes. Each batch, once
    committed, is announced to the turn's streams with its frames, so relaying it needs no
    read; the announcements go out in order, while the next batch is written."""

    def __init__(self, turn_id: UUID, last_seq: int) -> None:
        self.turn_id = turn_id
        self.last_seq = last_seq
        self.group = turn_group(turn_id)
        self.pending: list[uistream.Chunk | str] = []
        self.ready = asyncio.Event()
        self.closing = False
        self.announced: asyncio.Task[None] | None = None
        self.task = asyncio.create_task(self._write_forever())

    def append(self, chunk: uistream.Chunk | str) -> None:
        self.pending.append(chunk)
        self.ready.set()

    async def close(self) -> None:
        self.closing = True
        self.ready.set()
        await self.task

    def _write(self, batch: list[uistream.Chunk | str]) -> int:
        return database_retry(
            lambda: chunks_write(turn_id=self.turn_id, after_seq=self.last_seq, chunks=batch)
        )

    def _announce(self, seq: int, frames: list[str]) -> None:
        previous = self.announced

        async def announce() -> None:
            if previous is not None:
                await previous
            await stream_announce(group=self.group, seq=seq, frames=frames)

        self.announced = asyncio.create_task(announce())

    async def _write_forever(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            if self.pending:
                batch, self.pending = self.pending, []
                try:
                    self.last_seq = await off_loop(self._write)(batch)
                except LogTaken:
                    # Its lease ran out and another runner saved it as interrupted.
                    logger.warning(
                        "chat turn %s was taken over; its output is dropped", self.turn_id
                    )
                    return
                self._announce(self.last_seq, [uistream.frame(chunk) for chunk in batch])
            if self.closing and not self.pending:
                if self.announced is not None:
                    await self.announced
                return


class TurnRunner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.turns: dict[UUID, asyncio.Task[None]] = {}
        self.generating: dict[UUID, asyncio.Task[None]] = {}
        self.stopped_by: dict[UUID, str] = {}

    async def run(self, stop: threading.Event) -> None:
        wakeups = EventWakeups(RUNNERS_GROUP)
        await wakeups.join()
        loop = asyncio.get_running_loop()
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
                        await off_loop(turns_recover, RUNNER_CALLS)()
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
        writer: ChunkWriter | None = None
        try:
            context: TurnContext = await off_loop(turn_context)(turn_id)
            writer = log = ChunkWriter(turn_id, context.last_seq)
            assembler = uistream.MessageAssembler(context.message_id)

            def emit(chunk: uistream.Chunk) -> None:
                assembler.add(chunk)
                log.append(chunk)

            assembler.add(uistream.start(context.message_id))  # in the log since the turn began
            agent = AgentTurn(context, emit)
            status, error_text = await self._generate(turn_id, agent)
            ending = calls_closed(assembler)
            if error_text:
                ending.append(uistream.error(error_text))
            metadata = agent.totals.metadata(context.model)
            by = self.stopped_by.pop(turn_id, "error" if error_text else "")
            if by:
                interrupted(metadata, by)
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
            log.append(uistream.DONE)
        except Exception:
            logger.exception("chat turn %s failed", turn_id)
        finally:
            self.generating.pop(turn_id, None)
            if writer is not None:
                await writer.close()

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
        except (LLMError, TurnStopped) as error:
            return TurnStatus.FAILED, error_words(error)
        except Exception as error:
            logger.exception("chat turn %s failed", turn_id)
            return TurnStatus.FAILED, f"The agent failed: {error_words(error)}"
        return TurnStatus.DONE, ""


@runner("chat-turns")
def chat_turns_run(stop: threading.Event) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(TurnRunner(f"{worker_name()}:chat").run(stop))
