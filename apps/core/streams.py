"""Server-sent event streams over a durable append-only log: replay after a seq, then live.

A log (`DurableLog`: a project's events today, a chat's chunks or a terminal's output later) is
the source of truth, with a `seq` that grows by one per entry. A stream reads everything after
the last seq it sent, so it can neither skip nor repeat an entry. The channel layer only wakes it
(at once, across processes with Redis); a periodic re-read covers writers whose wake-up cannot
reach it (a worker process with the in-memory layer, Redis down).

A waiting stream holds no database connection: reads run on a few shared threads that give the
connection back (to the pool) after each read, and the streams of one log share them. An
outage of the database or of Redis does not end a stream: it keeps sending keep-alives and
reads again with backoff, so the client misses nothing once the database is back.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import uuid
import weakref
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps
from typing import Any, ParamSpec, Protocol, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import StreamingHttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.renderers import BaseRenderer

from apps.core import host_wakeups
from apps.core.database import DATABASE_OUTAGE, DATABASE_UNAVAILABLE, Backoff
from discobot.outages import CacheBreaker, DependencyOutage

P = ParamSpec("P")
T = TypeVar("T")
Entry = TypeVar("Entry")

# Entries a stream sends per read; a longer history takes several.
REPLAY_BATCH = 500
# The threads that read the logs for every stream of this process; their number, not the
# number of streams, bounds the database connections streams use.
STREAM_READS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stream-reads")
# Channel-layer calls that take longer are treated as failed; the stream polls meanwhile.
LAYER_TIMEOUT_SECONDS = 2.0
# A wake-up is a hint (streams also poll), so a layer that hangs must not hold up the write.
WAKE_TIMEOUT_SECONDS = 2.0
# Frames a wake-up carries at most (in characters); larger batches are read from the log.
WAKE_FRAMES_MAX_CHARS = 256 * 1024
# How often a loop's membership of a group is renewed at most, as its streams keep alive.
MEMBERSHIP_RENEW_SECONDS = 5.0
# Wake-ups a stream keeps while it is busy sending; beyond them the oldest are dropped.
WAKEUPS_KEPT = 100
CHANNEL_LAYER_OUTAGE = DependencyOutage("channel layer", "streams poll their logs until it is back")
KEEPALIVE_FRAME = b": keep-alive\n\n"
STREAM_SLOTS = CacheBreaker("the cap on event streams per user")


class DurableLog(Protocol[Entry]):
    """An append-only log a stream follows. Its reads block (they run on the stream threads);
    its writers call `stream_wake(group, seq)` once an entry is committed, and commit a log's
    entries in seq order, so that a reader resuming after seq N never later sees a smaller one.
    """

    @property
    def group(self) -> str:
        """The channel-layer group its writers wake; it also names the log among the streams."""
        ...

    def after(self, seq: int, limit: int) -> Sequence[Entry]:
        """Up to `limit` entries after `seq`, in seq order."""
        ...

    def last_seq(self) -> int | None:
        """The newest seq; None once the log is gone (its project was deleted)."""
        ...

    def seq_of(self, entry: Entry) -> int: ...

    def frame(self, entry: Entry) -> str:
        """The entry as an SSE frame (its `id` is the seq, so that a browser resumes after it)."""
        ...

    @property
    def poll_seconds(self) -> float:
        """How often a waiting stream reads the log again, for wake-ups that cannot reach it."""
        ...


def sse_frame(event_type: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event_type}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStreamRenderer(BaseRenderer):
    """Lets EventSource's `Accept: text/event-stream` through; renders errors as SSE."""

    media_type = "text/event-stream"
    format = "sse"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return sse_frame("error", data if isinstance(data, dict) else {"error": str(data)}).encode()


def connection_close() -> None:
    """Gives this thread's connection back to the pool (or closes it)."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def connection_released(read: Callable[P, T]) -> Callable[P, T]:
    """`read`, after which the thread's connection goes back to the pool (or is closed)."""

    @wraps(read)
    def released(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return read(*args, **kwargs)
        finally:
            connection_close()

    return released


def off_loop(
    call: Callable[P, T], executor: ThreadPoolExecutor | None = None
) -> Callable[P, Coroutine[Any, Any, T]]:
    """`call` made awaitable, run in a thread of its own (of `executor`, else the loop's)
    rather than Django's one shared sync thread (which would line every turn and terminal up
    behind each other), its database connection released after."""
    return sync_to_async(connection_released(call), thread_sensitive=False, executor=executor)


Framed = tuple[int, bytes]  # an entry's seq and its SSE frame, encoded once for every stream


class LogTail:
    """The newest entries read from a log, framed: streams that are caught up are served them
    without a read of their own."""

    def __init__(self, after_seq: int, entries: Sequence[Framed]) -> None:
        self.after_seq = after_seq  # the entries are those after it
        self.seqs = [seq for seq, _ in entries]
        self.entries = list(entries)

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]

    def after(self, seq: int) -> Sequence[Framed]:
        return self.entries[bisect.bisect_right(self.seqs, seq) :]

    def extended(self, after_seq: int, entries: Sequence[Framed]) -> LogTail:
        """This tail with the entries read after `after_seq`, when they continue it."""
        if not self.after_seq <= after_seq <= self.last_seq:
            return LogTail(after_seq, entries)
        kept = self.entries[: bisect.bisect_right(self.seqs, after_seq)] + list(entries)
        dropped = max(0, len(kept) - REPLAY_BATCH)
        start = kept[dropped - 1][0] if dropped else self.after_seq
        return LogTail(start, kept[dropped:])


class SharedEventReads:
    """The log reads of this process's streams. Streams waiting for the same answer await one
    query, a log's newest seq is read at most once per poll interval (a wake-up brings a newer
    one at once), and its newest entries are kept framed (`LogTail`): idle streams cost the
    database nothing per stream, and a new entry is read and framed once for all of them.
    """

    def __init__(self) -> None:
        self._reads: dict[tuple[str, str, int], asyncio.Future[Any]] = {}
        self._last_seqs: dict[str, tuple[float, int]] = {}
        self._streams: Counter[str] = Counter()
        self._logs: dict[str, DurableLog[Any]] = {}
        self._tails: dict[str, LogTail] = {}

    def stream_opened(self, log: DurableLog[Any]) -> None:
        self._streams[log.group] += 1
        self._logs.setdefault(log.group, log)

    def stream_closed(self, group: str) -> None:
        self._streams[group] -= 1
        if self._streams[group] <= 0:
            del self._streams[group]
            self._last_seqs.pop(group, None)
            self._logs.pop(group, None)
            self._tails.pop(group, None)

    def follows(self, group: str) -> bool:
        """Whether streams of this process follow the log of `group`."""
        return group in self._logs

    def committed(self, group: str, seq: int) -> None:
        """A wake-up said that `seq` is committed."""
        self._remember(group, seq, asyncio.get_running_loop().time())

    async def prepare(self, group: str, seq: int) -> None:
        """A wake-up said that `seq` is committed: reads what follows the newest seq known
        before, so that the streams it then wakes find those entries framed."""
        known = self._last_seqs.get(group)
        self.committed(group, seq)
        log = self._logs.get(group)
        if log is None or known is None or known[1] >= seq:
            return
        # A failed read is the streams' to see: they read again themselves, with backoff.
        with contextlib.suppress(Exception):
            await self._shared(("after", group, known[1]), framed_after, log, known[1])

    async def after(
        self, log: DurableLog[Entry], seq: int, *, max_age: float
    ) -> Sequence[Framed] | None:
        """Up to a batch of entries after `seq`, framed; None once the log is gone."""
        last_seq = await self.last_seq(log, max_age=max_age)
        if last_seq is None:
            return None
        if last_seq <= seq:
            return []
        tail = self._tails.get(log.group)
        if tail is not None and tail.after_seq <= seq and tail.last_seq >= last_seq:
            return tail.after(seq)
        return await self._shared(("after", log.group, seq), framed_after, log, seq)

    async def last_seq(self, log: DurableLog[Entry], *, max_age: float) -> int | None:
        now = asyncio.get_running_loop().time()
        known = self._last_seqs.get(log.group)
        if known is not None and now - known[0] < max_age:
            return known[1]
        seq = await self._shared(("last_seq", log.group, 0), log.last_seq)
        if seq is not None:
            self._remember(log.group, seq, now)
        return seq

    def _remember(self, group: str, seq: int, read_at: float) -> None:
        if group in self._streams:
            known_seq = self._last_seqs.get(group, (0.0, 0))[1]
            self._last_seqs[group] = (read_at, max(seq, known_seq))

    async def _shared(self, key: tuple[str, str, int], read: Callable[..., T], *args: Any) -> T:
        future = self._reads.get(key)
        if future is None:
            released = connection_released(read)
            future = asyncio.ensure_future(
                sync_to_async(released, thread_sensitive=False, executor=STREAM_READS)(*args)
            )
            self._reads[key] = future
            future.add_done_callback(partial(self._read_done, key))
        # Shielded: one stream going away must not cancel the read the others wait for.
        result: T = await asyncio.shield(future)
        return result

    def _read_done(self, key: tuple[str, str, int], future: asyncio.Future[Any]) -> None:
        del self._reads[key]
        if future.cancelled():
            return
        # Retrieved here, also when every stream waiting for it went away.
        error = future.exception()
        if error is None:
            DATABASE_OUTAGE.recovered()
        elif isinstance(error, DATABASE_UNAVAILABLE):
            DATABASE_OUTAGE.failed(error)
        kind, group, after_seq = key
        if kind == "after" and error is None and future.result() and group in self._streams:
            self._tail_extend(group, after_seq, future.result())

    def _tail_extend(self, group: str, after_seq: int, entries: Sequence[Framed]) -> None:
        tail = self._tails.get(group)
        if tail is None:
            self._tails[group] = LogTail(after_seq, entries)
        elif entries[-1][0] >= tail.last_seq:  # an older batch (a replay) leaves it be
            self._tails[group] = tail.extended(after_seq, entries)


def framed_after(log: DurableLog[Entry], seq: int) -> list[Framed]:
    """Up to a batch of the log's entries after `seq`, framed: once, in the reading thread, for
    every stream that waits for them."""
    return [
        (log.seq_of(entry), log.frame(entry).encode()) for entry in log.after(seq, REPLAY_BATCH)
    ]


SHARED_READS = SharedEventReads()


async def stream_announce(*, group: str, seq: int, frames: Sequence[str] = ()) -> None:
    """Tells the log's open streams (in any process, with Redis) that `seq` is committed.

    `frames` may carry the frames of the entries that end at `seq`: a stream that already sent
    the entry before them sends them as they are, without reading the log (the wake-up is then
    the whole relay). Call it after the commit: failing here would turn a write that happened
    into an error (and a client's retry into a duplicate), so a layer that is down is logged
    and otherwise ignored.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message: dict[str, Any] = {"type": "stream.wake", "group": group, "seq": seq}
    if frames and sum(len(frame) for frame in frames) <= WAKE_FRAMES_MAX_CHARS:
        message["frames"] = list(frames)
    await host_wakeups.host_send(message)
    try:
        await asyncio.wait_for(layer.group_send(group, message), WAKE_TIMEOUT_SECONDS)
    except Exception as error:  # whatever the layer's client raises (Redis down, timeout)
        CHANNEL_LAYER_OUTAGE.failed(error)
    else:
        CHANNEL_LAYER_OUTAGE.recovered()


class ServerLoop:
    """The event loop of a server process whose request threads run synchronous code
    (discobot/serving.py), once it serves."""

    running: asyncio.AbstractEventLoop | None = None


def stream_wake(*, group: str, seq: int) -> None:
    """`stream_announce` from synchronous code (`transaction.on_commit`).

    On a server's request thread the announcement is handed to the server's loop and the
    request goes on: its answer need not wait for the streams to hear of its write (waiting
    cost a write 0.5 ms). Elsewhere (the worker, a command) it is made before returning."""
    loop = ServerLoop.running
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(stream_announce(group=group, seq=seq), loop)
        return
    async_to_sync(stream_announce)(group=group, seq=seq)


class Inbox:
    """A stream's wake-ups not yet taken. Beyond WAKEUPS_KEPT the oldest go: the newest carries
    the highest seq. Lighter than an `asyncio.Queue` behind an `asyncio.timeout`, which cost
    1,000 streams about 5 µs each per wake-up."""

    def __init__(self) -> None:
        self.messages: deque[dict[str, Any]] = deque(maxlen=WAKEUPS_KEPT)
        self.waiter: asyncio.Future[None] | None = None

    def put(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self, timeout: float) -> dict[str, Any] | None:
        """The oldest wake-up, waiting up to `timeout` seconds for one; None if none came."""
        if not self.messages:
            loop = asyncio.get_running_loop()
            self.waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, _resolved, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.messages.popleft() if self.messages else None


def _resolved(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LoopWakeups:
    """The channel-layer side of the streams on one event loop: a single channel, a member of
    the group of every log one of them follows, whose messages are handed to each of those
    streams in memory.

    One membership per process rather than one per stream: a wake-up costs the layer one
    message per process instead of one per stream (on Redis), and the in-memory layer, each of
    whose receives walks every channel and group member, no longer costs the square of the
    number of streams.
    """

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.inboxes: dict[str, set[Inbox]] = {}
        # The groups the channel is in, and when the layer last confirmed it.
        self.joined_at: dict[str, float] = {}
        self.joining: dict[str, asyncio.Future[None]] = {}
        self.receiving: asyncio.Task[None] | None = None
        self.handing: set[asyncio.Task[None]] = set()
        self.host: host_wakeups.HostListener | None = None

    async def join(self, group: str, inbox: Inbox) -> None:
        """Hands the group's wake-ups to `inbox` from now on. The membership in the layer is
        renewed every MEMBERSHIP_RENEW_SECONDS at most (Redis may have lost it)."""
        self.inboxes.setdefault(group, set()).add(inbox)
        if self.host is None and host_wakeups.enabled():
            try:
                self.host = host_wakeups.HostListener(asyncio.get_running_loop(), self._deliver)
            except OSError as error:  # other processes' writes then arrive at the next poll
                host_wakeups.HOST_WAKEUPS_OUTAGE.failed(error)
        joined_at = self.joined_at.get(group)
        if joined_at is not None and self._now() - joined_at < MEMBERSHIP_RENEW_SECONDS:
            return
        pending = self.joining.get(group)
        if pending is None:  # streams that join at once share one group_add
            pending = asyncio.ensure_future(self._group_add(group))
            self.joining[group] = pending
            pending.add_done_callback(lambda _: self.joining.pop(group, None))
        await asyncio.shield(pending)

    async def leave(self, group: str, inbox: Inbox) -> None:
        inboxes = self.inboxes.get(group, set())
        inboxes.discard(inbox)
        if inboxes:
            return
        self.inboxes.pop(group, None)
        if self.joined_at.pop(group, None) is not None and self.channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.layer.group_discard(group, self.channel), LAYER_TIMEOUT_SECONDS
                )
        if not self.inboxes and self.receiving is not None:
            self.receiving.cancel()  # nothing to hand out; the next join starts it again
            self.receiving = None
        if not self.inboxes and self.host is not None:
            self.host.close()
            self.host = None

    async def _group_add(self, group: str) -> None:
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            await asyncio.wait_for(self.layer.group_add(group, self.channel), LAYER_TIMEOUT_SECONDS)
        except Exception as error:  # whatever the layer's client raises: refused, timeout
            CHANNEL_LAYER_OUTAGE.failed(error)
            self.joined_at.pop(group, None)
            return
        CHANNEL_LAYER_OUTAGE.recovered()
        if group not in self.inboxes:
            return  # every stream of it left meanwhile; its membership expires unused
        self.joined_at[group] = self._now()
        if self.receiving is None or self.receiving.done():
            self.receiving = asyncio.create_task(self._receive_forever())

    async def _receive_forever(self) -> None:
        backoff = Backoff()
        while True:
            try:
                message: dict[str, Any] = await self.layer.receive(self.channel)
            except Exception as error:  # Redis down: streams poll, and join again at keep-alive
                CHANNEL_LAYER_OUTAGE.failed(error)
                self.joined_at.clear()
                await asyncio.sleep(backoff.next_delay())
                continue
            backoff.reset()
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        """A wake-up from the layer or (without Redis) from another process of this machine."""
        group = message.get("group", "")
        if group not in self.inboxes:
            return
        if message.get("frames") or not SHARED_READS.follows(group):
            self._hand_out(group, message)  # a stream relays the frames it carries as is
        else:  # the streams are woken once the new entries are read, and framed, for all
            handing = asyncio.create_task(self._prepared_hand_out(group, message))
            self.handing.add(handing)
            handing.add_done_callback(self.handing.discard)

    async def _prepared_hand_out(self, group: str, message: dict[str, Any]) -> None:
        await SHARED_READS.prepare(group, message["seq"])
        self._hand_out(group, message)

    def _hand_out(self, group: str, message: dict[str, Any]) -> None:
        for inbox in self.inboxes.get(group, ()):
            inbox.put(message)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


LOOP_WAKEUPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWakeups] = (
    weakref.WeakKeyDictionary()
)


class EventWakeups:
    """One stream's wake-ups: the messages of `stream_announce` for its log's group. Without a
    working layer (Redis down) none arrive and the stream polls; joining again at each
    keep-alive brings them back."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.inbox = Inbox()
        self.loop_wakeups: LoopWakeups | None = None

    async def join(self) -> None:
        """Joins the log's group, or renews the membership."""
        if self.loop_wakeups is None:
            loop = asyncio.get_running_loop()
            self.loop_wakeups = LOOP_WAKEUPS.get(loop)
            if self.loop_wakeups is None:
                self.loop_wakeups = LOOP_WAKEUPS[loop] = LoopWakeups()
        await self.loop_wakeups.join(self.group, self.inbox)

    async def wait(self, timeout: float) -> dict[str, Any] | None:
        """Waits up to `timeout` seconds for a wake-up; returns its message (`stream_announce`)."""
        return await self.inbox.get(timeout)

    async def leave(self) -> None:
        if self.loop_wakeups is not None:
            await self.loop_wakeups.leave(self.group, self.inbox)


class StreamSlot:
    """One of a user's EVENTS_MAX_STREAMS_PER_USER stream slots: a cache key (in Redis, shared
    by every process) that the stream refreshes at each keep-alive and deletes when it ends.
    A slot that is not refreshed expires, so a process that died frees its streams' slots.
    With the cache unreachable there is no cap: refusing every stream would be worse.
    """

    def __init__(self, key: str, token: str) -> None:
        self.key = key
        self.token = token
        self.freed = False

    @staticmethod
    def lifetime() -> float:
        return max(60.0, 4 * float(settings.EVENTS_KEEPALIVE_SECONDS))

    @classmethod
    def take(cls, *, user_id: str) -> StreamSlot | None:
        """A free slot of the user's; raises 429 when they are all taken."""
        limit = settings.EVENTS_MAX_STREAMS_PER_USER
        if not limit or not STREAM_SLOTS.available():
            return None
        keys = [f"event-stream-slot:{user_id}:{index}" for index in range(limit)]
        token = uuid.uuid4().hex
        try:
            taken = cache.get_many(keys)
            for key in keys:
                if key not in taken and cache.add(key, token, cls.lifetime()):
                    return cls(key, token)
        except Exception as error:  # whatever the cache's client raises: refused, timeout
            STREAM_SLOTS.failed(error)
            return None
        raise Throttled(detail=f"Too many open event streams (at most {limit} per user)")

    def keep(self) -> None:
        try:
            if not cache.touch(self.key, self.lifetime()):
                cache.add(self.key, self.token, self.lifetime())  # it expired (Redis restarted)
        except Exception as error:
            STREAM_SLOTS.failed(error)

    def free(self) -> None:
        if self.freed:
            return
        self.freed = True
        try:
            if cache.get(self.key) == self.token:
                cache.delete(self.key)
        except Exception as error:
            STREAM_SLOTS.failed(error)


def announced_frames(message: dict[str, Any], *, after_seq: int) -> list[str]:
    """The frames of a wake-up that follow `after_seq`: none unless they start right after it
    (a gap is read from the log)."""
    frames: list[str] = message.get("frames") or []
    first = message["seq"] - len(frames) + 1
    if not frames or not first <= after_seq + 1 <= message["seq"]:
        return []
    return frames[after_seq + 1 - first :]


async def event_stream(
    log: DurableLog[Entry], *, after_seq: int, slot: StreamSlot | None, greeting: str = ""
) -> AsyncGenerator[bytes, None]:
    """`greeting`, then the log's entries after `after_seq`, then new ones as they commit,
    with keep-alive comments while idle; ends when the log is gone."""
    # The view's connection belongs to this request's thread, which would keep it (out of the
    # pool) until the response ends.
    await sync_to_async(connection_close)()
    wakeups = EventWakeups(log.group)
    await wakeups.join()
    SHARED_READS.stream_opened(log)
    last_seq = after_seq
    try:
        if greeting:
            yield greeting.encode()
        loop = asyncio.get_running_loop()
        keepalive = settings.EVENTS_KEEPALIVE_SECONDS
        last_sent = loop.time()
        backoff = Backoff()
        max_age = 0.0  # the first read is fresh: a client that reconnects gets its gap at once
        while True:
            entries: Sequence[Framed] | None
            try:
                entries = await SHARED_READS.after(log, last_seq, max_age=max_age)
            except DATABASE_UNAVAILABLE:  # logged by the shared read; the stream waits it out
                entries, wait = [], backoff.next_delay()
            else:
                backoff.reset()
                wait = log.poll_seconds
                if entries is None:
                    return  # the log is gone
            max_age = log.poll_seconds
            for entry_seq, frame in entries:
                yield frame
                last_seq = entry_seq
            if entries:
                last_sent = loop.time()
                if len(entries) == REPLAY_BATCH:
                    continue  # more history to send
            until_keepalive = keepalive - (loop.time() - last_sent)
            if until_keepalive > 0:
                message = await wakeups.wait(min(wait, until_keepalive))
                if message is not None:
                    for announced in announced_frames(message, after_seq=last_seq):
                        yield announced.encode()
                        last_sent = loop.time()
                        last_seq += 1
                    SHARED_READS.committed(log.group, message["seq"])
            if loop.time() - last_sent >= keepalive:
                yield KEEPALIVE_FRAME
                last_sent = loop.time()
                await wakeups.join()
                if slot is not None:
                    await sync_to_async(slot.keep, thread_sensitive=False)()
    finally:
        SHARED_READS.stream_closed(log.group)
        await wakeups.leave()
        if slot is not None:
            await sync_to_async(slot.free, thread_sensitive=False)()


class EventStreamResponse(StreamingHttpResponse):
    """Closing the response frees the stream's slot, also when the client left before the
    stream began (a generator that never started runs no `finally`)."""

    def __init__(self, stream: AsyncIterator[bytes], slot: StreamSlot | None) -> None:
        super().__init__(stream, content_type="text/event-stream")
        self.slot = slot
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"

    def close(self) -> None:
        try:
            if self.slot is not None:
                self.slot.free()
        finally:
            super().close()
