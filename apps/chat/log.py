"""A turn's chunks as the durable log its streams follow (`apps.core.streams`): every stream of
a turn, from any tab and any server process, replays it from the start and then follows it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction

from apps.chat import uistream
from apps.chat.models import ChatChunk, ChatTurn
from apps.core.streams import event_stream, stream_wake


def turn_group(turn_id: UUID | str) -> str:
    """The channel-layer group a turn's streams listen on."""
    return f"chat-turn.{turn_id}"


@dataclass(frozen=True)
class TurnLog:
    turn_id: UUID

    @property
    def group(self) -> str:
        return turn_group(self.turn_id)

    def after(self, seq: int, limit: int) -> Sequence[ChatChunk]:
        return list(ChatChunk.objects.filter(turn_id=self.turn_id, seq__gt=seq)[:limit])

    def last_seq(self) -> int | None:
        return ChatTurn.objects.filter(pk=self.turn_id).values_list("last_seq", flat=True).first()

    def seq_of(self, entry: ChatChunk) -> int:
        return entry.seq

    def frame(self, entry: ChatChunk) -> str:
        return uistream.frame(entry.data)

    @property
    def poll_seconds(self) -> float:
        return float(settings.CHAT_STREAM_POLL_SECONDS)


class LogTaken(Exception):
    """Another writer appended to the turn's log: it is no longer this writer's."""


Batch = tuple[int, Sequence[uistream.Chunk | str]]


@transaction.atomic
def logs_write(batches: Mapping[UUID, Batch]) -> dict[UUID, int | None]:
    """Appends to several turns' logs at once: for each turn, its chunks (`[DONE]` last) after
    the seq given with them, the newest as the turn's one writer knows it (the web process that
    begins the turn, then the runner holding it, or the runner saving it as interrupted).
    Returns each turn's new newest seq, or None for a turn another writer appended to meanwhile
    (nothing is written to it; the others are). One transaction, so a runner's many turns cost
    one commit. The caller wakes the streams once it is committed."""
    written: dict[UUID, int | None] = {}
    rows: list[ChatChunk] = []
    for turn_id, (after_seq, chunks) in batches.items():
        last = after_seq + len(chunks)
        if not ChatTurn.objects.filter(pk=turn_id, last_seq=after_seq).update(last_seq=last):
            written[turn_id] = None
            continue
        written[turn_id] = last
        rows += [
            ChatChunk(turn_id=turn_id, seq=after_seq + 1 + index, data=chunk)
            for index, chunk in enumerate(chunks)
        ]
    ChatChunk.objects.bulk_create(rows)
    return written


def chunks_write(*, turn_id: UUID, after_seq: int, chunks: Sequence[uistream.Chunk | str]) -> int:
    """One turn's `logs_write`; LogTaken when another writer appended meanwhile."""
    last = logs_write({turn_id: (after_seq, chunks)})[turn_id]
    if last is None:
        raise LogTaken(f"the log of turn {turn_id} moved past seq {after_seq}")
    return last


def chunks_append(*, turn: ChatTurn, chunks: Sequence[uistream.Chunk | str]) -> int:
    """`chunks_write` after the turn's seq as read, then its streams woken once it commits."""
    with transaction.atomic():
        last = chunks_write(turn_id=turn.pk, after_seq=turn.last_seq, chunks=chunks)
        group = turn_group(turn.pk)
        transaction.on_commit(lambda: stream_wake(group=group, seq=last))
    return last


def turn_chunks(turn_id: UUID) -> list[Any]:
    """Every chunk the turn's log holds, in order."""
    return list(
        ChatChunk.objects.filter(turn_id=turn_id).order_by("seq").values_list("data", flat=True)
    )


async def turn_stream(turn_id: UUID) -> AsyncIterator[bytes]:
    """The turn's frames from its first chunk, live until its `[DONE]`."""
    frames = event_stream(TurnLog(turn_id), after_seq=0, slot=None)
    done = uistream.DONE_FRAME.encode()
    async with contextlib.aclosing(frames):
        async for frame in frames:
            yield frame
            if frame == done:
                return
