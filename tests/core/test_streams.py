"""The stream core over a log that is not the project's: replay after a seq, then live."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from apps.core.streams import (
    REPLAY_BATCH,
    LogTail,
    event_stream,
    sse_frame,
    stream_announce,
    stream_wake,
)

Line = tuple[int, str]
DEADLINE_SECONDS = 60.0


class LineLog:
    """A durable log kept in a list, as a terminal's output might be: the stream core only
    knows the `DurableLog` protocol."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.lines: list[Line] = []
        self.lock = threading.Lock()
        self.reads = 0

    def append(self, text: str) -> int:
        with self.lock:
            seq = len(self.lines) + 1
            self.lines.append((seq, text))
            return seq

    def after(self, seq: int, limit: int) -> list[Line]:
        with self.lock:
            self.reads += 1
            return self.lines[seq : seq + limit]

    def last_seq(self) -> int | None:
        with self.lock:
            return len(self.lines)

    def seq_of(self, entry: Line) -> int:
        return entry[0]

    def frame(self, entry: Line) -> str:
        return sse_frame("line", {"text": entry[1]}, entry[0])

    @property
    def poll_seconds(self) -> float:
        return float(settings.EVENTS_POLL_SECONDS)


def frame_of(seq: int) -> str:
    return sse_frame("line", {"text": f"line {seq}"}, seq)


async def frames(stream: AsyncIterator[bytes], count: int) -> list[str]:
    """The next `count` frames, as text; keep-alive comments are not frames."""
    received: list[str] = []
    while len(received) < count:
        frame = (await asyncio.wait_for(anext(stream), DEADLINE_SECONDS)).decode()
        if not frame.startswith(":"):
            received.append(frame)
    return received


@pytest.fixture
def quiet_stream_settings(settings: Any) -> None:
    # Neither polls nor keep-alives within the test's deadline: what arrives live came through
    # a wake-up.
    settings.EVENTS_POLL_SECONDS = 3600
    settings.EVENTS_KEEPALIVE_SECONDS = 3600


def test_a_stream_replays_after_its_seq_then_follows_the_log_live(
    quiet_stream_settings: None,
) -> None:
    log = LineLog("test-lines.replay-then-live")
    history = 2 * REPLAY_BATCH + 7  # more than one read's worth
    for seq in range(1, history + 1):
        log.append(f"line {seq}")

    async def scenario() -> list[str]:
        stream = event_stream(log, after_seq=5, slot=None, greeting=": hello\n\n")
        try:
            assert await anext(stream) == b": hello\n\n"
            replayed = await frames(stream, history - 5)
            for _ in range(3):
                seq = log.append(f"line {len(log.lines) + 1}")
            await sync_to_async(stream_wake)(group=log.group, seq=seq)  # one wake-up for three
            live = await frames(stream, 3)
        finally:
            await stream.aclose()
        return replayed + live

    received = async_to_sync(scenario)()

    assert received == [frame_of(seq) for seq in range(6, history + 4)]  # no gap, no repeat


def test_entries_written_while_a_stream_waits_arrive_once_each(quiet_stream_settings: None) -> None:
    log = LineLog("test-lines.one-by-one")

    async def scenario() -> list[str]:
        stream = event_stream(log, after_seq=0, slot=None)
        received: list[str] = []
        try:
            for _ in range(5):
                seq = log.append(f"line {len(log.lines) + 1}")
                await sync_to_async(stream_wake)(group=log.group, seq=seq)
                received += await frames(stream, 1)
        finally:
            await stream.aclose()
        return received

    assert async_to_sync(scenario)() == [frame_of(seq) for seq in range(1, 6)]


def test_a_writer_that_cannot_wake_the_stream_is_read_by_the_next_poll(settings: Any) -> None:
    settings.EVENTS_POLL_SECONDS = 0.2
    log = LineLog("test-lines.polled")

    async def scenario() -> list[str]:
        stream = event_stream(log, after_seq=0, slot=None)
        try:
            first = asyncio.ensure_future(frames(stream, 2))
            await asyncio.sleep(0)  # the stream is waiting before anything is written
            log.append("line 1")
            log.append("line 2")  # and no wake-up is sent
            return await first
        finally:
            await stream.aclose()

    assert async_to_sync(scenario)() == [frame_of(1), frame_of(2)]


def test_a_wake_up_carrying_its_frames_is_relayed_without_reading_the_log(
    quiet_stream_settings: None,
) -> None:
    log = LineLog("test-lines.relayed")

    async def scenario() -> list[str]:
        stream = event_stream(log, after_seq=0, slot=None)
        try:
            waiting = asyncio.ensure_future(frames(stream, 3))
            await asyncio.sleep(0.1)  # the stream has read the (empty) log and waits
            for _ in range(3):
                seq = log.append(f"line {len(log.lines) + 1}")
            await stream_announce(group=log.group, seq=seq, frames=[frame_of(n) for n in (1, 2, 3)])
            return await waiting
        finally:
            await stream.aclose()

    assert async_to_sync(scenario)() == [frame_of(1), frame_of(2), frame_of(3)]
    assert log.reads == 0


def test_frames_a_stream_already_sent_or_not_right_after_it_are_read_from_the_log(
    quiet_stream_settings: None,
) -> None:
    log = LineLog("test-lines.gaps")

    async def announce(first: int, last: int) -> None:
        frames_sent = [frame_of(n) for n in range(first, last + 1)]
        await stream_announce(group=log.group, seq=last, frames=frames_sent)

    async def scenario() -> list[str]:
        stream = event_stream(log, after_seq=0, slot=None)
        try:
            waiting = asyncio.ensure_future(frames(stream, 2))
            await asyncio.sleep(0.1)
            for _ in range(2):
                log.append(f"line {len(log.lines) + 1}")
            await announce(1, 2)
            received = await waiting
            for _ in range(2):
                log.append(f"line {len(log.lines) + 1}")
            await announce(2, 4)  # overlaps what the stream sent: only 3 and 4 are new
            received += await frames(stream, 2)
            for _ in range(3):
                log.append(f"line {len(log.lines) + 1}")
            await announce(6, 7)  # 5 is missing from it: the stream reads 5 to 7 from the log
            received += await frames(stream, 3)
        finally:
            await stream.aclose()
        return received

    assert async_to_sync(scenario)() == [frame_of(seq) for seq in range(1, 8)]
    assert log.reads == 1


def test_many_streams_of_a_log_share_one_layer_membership_and_one_read_per_entry(
    quiet_stream_settings: None,
) -> None:
    log = LineLog("test-lines.many")
    layer = get_channel_layer()

    async def scenario() -> tuple[list[list[str]], int, int]:
        streams = [event_stream(log, after_seq=0, slot=None) for _ in range(50)]
        waiting = [asyncio.ensure_future(frames(stream, 2)) for stream in streams]
        try:
            await asyncio.sleep(0.1)  # every stream has read the (empty) log and waits
            members = len(layer.groups.get(log.group, {}))
            for _ in range(2):
                seq = log.append(f"line {len(log.lines) + 1}")
                await stream_announce(group=log.group, seq=seq)
                await asyncio.sleep(0.1)
            received = await asyncio.gather(*waiting)
        finally:
            for stream in streams:
                await stream.aclose()
        return received, members, len(layer.groups.get(log.group, {}))

    received, members_while_open, members_after = async_to_sync(scenario)()

    assert received == [[frame_of(1), frame_of(2)]] * 50
    assert members_while_open == 1
    assert members_after == 0
    assert log.reads == 2  # once per entry, not once per stream


def test_a_stream_behind_the_others_gets_every_entry_in_order(quiet_stream_settings: None) -> None:
    log = LineLog("test-lines.behind")

    async def scenario() -> tuple[list[str], list[str]]:
        ahead = event_stream(log, after_seq=0, slot=None)
        behind = event_stream(log, after_seq=0, slot=None)
        try:
            ahead_frames = asyncio.ensure_future(frames(ahead, 4))
            behind_first = asyncio.ensure_future(frames(behind, 1))
            await asyncio.sleep(0.1)
            for _ in range(4):
                seq = log.append(f"line {len(log.lines) + 1}")
                await stream_announce(group=log.group, seq=seq)
                await asyncio.sleep(0.05)
            received_ahead = await ahead_frames
            # `behind` took one frame and was not read meanwhile: it resumes at line 2.
            received_behind = await behind_first + await frames(behind, 3)
        finally:
            await ahead.aclose()
            await behind.aclose()
        return received_ahead, received_behind

    received_ahead, received_behind = async_to_sync(scenario)()

    assert received_ahead == [frame_of(seq) for seq in range(1, 5)]
    assert received_behind == [frame_of(seq) for seq in range(1, 5)]


def test_the_kept_tail_continues_with_what_follows_it_and_stays_one_batch_long() -> None:
    def framed(first: int, last: int) -> list[tuple[int, bytes]]:
        return [(seq, frame_of(seq).encode()) for seq in range(first, last + 1)]

    tail = LogTail(0, framed(1, 3)).extended(2, framed(3, 5))
    assert (tail.after_seq, tail.entries) == (0, framed(1, 5))
    assert tail.after(3) == framed(4, 5)

    elsewhere = tail.extended(9, framed(10, 11))  # no longer continues it: it starts over
    assert (elsewhere.after_seq, elsewhere.entries) == (9, framed(10, 11))

    long = tail.extended(5, framed(6, REPLAY_BATCH + 10))
    assert len(long.entries) == REPLAY_BATCH
    assert long.after_seq == 10
    assert long.entries[0][0] == 11
