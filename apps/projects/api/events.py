"""GET /api/projects/{id}/events: the project's event stream (server-sent events, contract §6).

A stream sends `connected`, then the events the client missed (`Last-Event-ID`, `?after=` or
`?since=`), then live ones. The ProjectEvent table is the source of truth: a stream reads
everything after the last seq it sent, so it can neither skip nor repeat an event. The channel
layer only wakes it (at once, across processes with Redis); a periodic re-read covers writers
whose wake-up cannot reach it (a worker process with the in-memory layer, Redis down).

A waiting stream holds no database connection: reads run on a few shared threads that give the
connection back (to the pool) after each read, and the streams of one project share them. An
outage of the database or of Redis does not end a stream: it keeps sending keep-alives and
reads again with backoff, so the client misses nothing once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial, wraps
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from apps.projects.api.base import ProjectScopedView
from apps.projects.jobs import DATABASE_OUTAGE, DATABASE_UNAVAILABLE, Backoff
from apps.projects.models import Project, ProjectEvent
from apps.projects.services import CHANNEL_LAYER_OUTAGE, project_events_group
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer
from discobot.errors import ApplicationError
from discobot.outages import CacheBreaker

P = ParamSpec("P")
T = TypeVar("T")

REPLAY_BATCH = 500
# ProjectEvent.seq is a BigIntegerField.
MAX_SEQ = 2**63 - 1
# ASCII only: str.isdigit() and float() also accept digits such as "²" or "٣".
SEQ_PATTERN = re.compile(r"[0-9]{1,19}")
UNIX_SECONDS_PATTERN = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
AFTER_INVALID = "after (or Last-Event-ID) must be an event id or seq"
SINCE_INVALID = "since must be RFC 3339 with a time zone, or unix seconds"

# The threads that read the event table for every stream of this process; their number, not
# the number of streams, bounds the database connections streams use.
EVENT_READS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="event-reads")
# Channel-layer calls that take longer are treated as failed; the stream polls meanwhile.
LAYER_TIMEOUT_SECONDS = 2.0
STREAM_SLOTS = CacheBreaker("the cap on event streams per user")


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


def event_payload(event: ProjectEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "seq": event.seq,
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": event.data,
    }


def replay_start(project: Project, request: Request) -> int:
    """The seq after which this stream starts: from Last-Event-ID, `after`, `since`, or now.

    Last-Event-ID comes first: a browser reconnects to the same URL (with its old `after`) and
    names in the header the last event it received.
    """
    after = request.headers.get("Last-Event-ID") or request.query_params.get("after")
    if after:
        return seq_of_event(project, after)
    since = request.query_params.get("since")
    if since:
        return seq_before_moment(project, since)
    return project.last_event_seq


def seq_of_event(project: Project, after: str) -> int:
    if SEQ_PATTERN.fullmatch(after):
        seq = int(after)
        if seq > MAX_SEQ:
            raise ApplicationError(AFTER_INVALID)
        return seq
    try:
        event_id = uuid.UUID(after)
    except ValueError:
        raise ApplicationError(AFTER_INVALID) from None
    event_seq = project.events.filter(id=event_id).values_list("seq", flat=True).first()
    if event_seq is None:
        raise ApplicationError("after names no event of this project")
    return event_seq


def seq_before_moment(project: Project, since: str) -> int:
    try:
        moment = (
            datetime.fromtimestamp(float(since), tz=UTC)
            if UNIX_SECONDS_PATTERN.fullmatch(since)
            else parse_datetime(since)
        )
    except (ValueError, OverflowError, OSError):  # well-formed but no date: month 13, year 10000
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApplicationError(SINCE_INVALID)
    first = project.events.filter(created_at__gt=moment).order_by("seq").first()
    return first.seq - 1 if first else project.last_event_seq


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


@connection_released
def events_after(project_id: str, seq: int) -> list[ProjectEvent]:
    return list(
        ProjectEvent.objects.filter(project_id=project_id, seq__gt=seq).order_by("seq")[
            :REPLAY_BATCH
        ]
    )


@connection_released
def project_last_seq(project_id: str) -> int | None:
    """The project's newest seq; None once the project is deleted."""
    return Project.objects.filter(id=project_id).values_list("last_event_seq", flat=True).first()


class SharedEventReads:
    """The event-table reads of this process's streams. Streams waiting for the same answer
    await one query, and a project's newest seq is read at most once per poll interval (a
    wake-up brings a newer one at once), so idle streams cost the database nothing per stream.
    """

    def __init__(self) -> None:
        self._reads: dict[tuple[str, ...], asyncio.Future[Any]] = {}
        self._last_seqs: dict[str, tuple[float, int]] = {}
        self._streams: Counter[str] = Counter()

    def stream_opened(self, project_id: str) -> None:
        self._streams[project_id] += 1

    def stream_closed(self, project_id: str) -> None:
        self._streams[project_id] -= 1
        if self._streams[project_id] <= 0:
            del self._streams[project_id]
            self._last_seqs.pop(project_id, None)

    def committed(self, project_id: str, seq: int) -> None:
        """A wake-up said that `seq` is committed."""
        self._remember(project_id, seq, asyncio.get_running_loop().time())

    async def events_after(
        self, project_id: str, seq: int, *, max_age: float
    ) -> list[ProjectEvent] | None:
        """Up to a batch of events after `seq`; None once the project is deleted."""
        last_seq = await self.last_seq(project_id, max_age=max_age)
        if last_seq is None:
            return None
        if last_seq <= seq:
            return []
        return await self._shared(("events", project_id, str(seq)), events_after, project_id, seq)

    async def last_seq(self, project_id: str, *, max_age: float) -> int | None:
        now = asyncio.get_running_loop().time()
        known = self._last_seqs.get(project_id)
        if known is not None and now - known[0] < max_age:
            return known[1]
        seq = await self._shared(("last_seq", project_id), project_last_seq, project_id)
        if seq is not None:
            self._remember(project_id, seq, now)
        return seq

    def _remember(self, project_id: str, seq: int, read_at: float) -> None:
        if project_id in self._streams:
            known_seq = self._last_seqs.get(project_id, (0.0, 0))[1]
            self._last_seqs[project_id] = (read_at, max(seq, known_seq))

    async def _shared(self, key: tuple[str, ...], read: Callable[..., T], *args: Any) -> T:
        future = self._reads.get(key)
        if future is None:
            future = asyncio.ensure_future(
                sync_to_async(read, thread_sensitive=False, executor=EVENT_READS)(*args)
            )
            self._reads[key] = future
            future.add_done_callback(partial(self._read_done, key))
        # Shielded: one stream going away must not cancel the read the others wait for.
        return await asyncio.shield(future)

    def _read_done(self, key: tuple[str, ...], future: asyncio.Future[Any]) -> None:
        del self._reads[key]
        if future.cancelled():
            return
        # Retrieved here, also when every stream waiting for it went away.
        error = future.exception()
        if error is None:
            DATABASE_OUTAGE.recovered()
        elif isinstance(error, DATABASE_UNAVAILABLE):
            DATABASE_OUTAGE.failed(error)


SHARED_READS = SharedEventReads()


class EventWakeups:
    """One stream's wake-ups through the channel layer. Without a working layer (Redis down)
    the stream still polls; joining the group again at each keep-alive brings them back."""

    def __init__(self, project_id: str) -> None:
        self.layer = get_channel_layer()
        self.group = project_events_group(project_id)
        self.channel: str | None = None
        self.joined = False

    async def join(self) -> None:
        """Joins the project's group, or renews the membership (Redis may have lost it)."""
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            await asyncio.wait_for(
                self.layer.group_add(self.group, self.channel), LAYER_TIMEOUT_SECONDS
            )
        except Exception as error:  # whatever the layer's client raises: refused, timeout
            CHANNEL_LAYER_OUTAGE.failed(error)
            self.joined = False
        else:
            CHANNEL_LAYER_OUTAGE.recovered()
            self.joined = True

    async def wait(self, timeout: float) -> int | None:
        """Waits up to `timeout` seconds for a wake-up; returns the seq it announced."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self.joined:
            try:
                message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
            except TimeoutError:
                return None
            except Exception as error:
                CHANNEL_LAYER_OUTAGE.failed(error)
                self.joined = False
            else:
                return message.get("seq")
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        return None

    async def leave(self) -> None:
        if self.joined and self.channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.layer.group_discard(self.group, self.channel), LAYER_TIMEOUT_SECONDS
                )


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
        return max(60.0, 4 * settings.EVENTS_KEEPALIVE_SECONDS)

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


async def event_stream(
    project_id: str, last_seq: int, slot: StreamSlot | None
) -> AsyncIterator[str]:
    # The view's connection belongs to this request's thread, which would keep it (out of the
    # pool) until the response ends.
    await sync_to_async(connection_close)()
    wakeups = EventWakeups(project_id)
    await wakeups.join()
    SHARED_READS.stream_opened(project_id)
    try:
        yield sse_frame("connected", {"projectId": project_id})
        loop = asyncio.get_running_loop()
        keepalive = settings.EVENTS_KEEPALIVE_SECONDS
        last_sent = loop.time()
        backoff = Backoff()
        max_age = 0.0  # the first read is fresh: a client that reconnects gets its gap at once
        while True:
            try:
                events = await SHARED_READS.events_after(project_id, last_seq, max_age=max_age)
            except DATABASE_UNAVAILABLE:  # logged by the shared read; the stream waits it out
                events, wait = [], backoff.next_delay()
            else:
                backoff.reset()
                wait = settings.EVENTS_POLL_SECONDS
                if events is None:
                    return  # the project was deleted
            max_age = settings.EVENTS_POLL_SECONDS
            for event in events:
                yield sse_frame(event.type, event_payload(event), event.seq)
                last_seq = event.seq
            if events:
                last_sent = loop.time()
                if len(events) == REPLAY_BATCH:
                    continue  # more history to send
            until_keepalive = keepalive - (loop.time() - last_sent)
            if until_keepalive > 0:
                seq = await wakeups.wait(min(wait, until_keepalive))
                if seq is not None:
                    SHARED_READS.committed(project_id, seq)
            if loop.time() - last_sent >= keepalive:
                yield ": keep-alive\n\n"
                last_sent = loop.time()
                await wakeups.join()
                if slot is not None:
                    await sync_to_async(slot.keep, thread_sensitive=False)()
    finally:
        SHARED_READS.stream_closed(project_id)
        await wakeups.leave()
        if slot is not None:
            await sync_to_async(slot.free, thread_sensitive=False)()


class EventStreamResponse(StreamingHttpResponse):
    """Closing the response frees the stream's slot, also when the client left before the
    stream began (a generator that never started runs no `finally`)."""

    def __init__(self, stream: AsyncIterator[str], slot: StreamSlot | None) -> None:
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


class ProjectEventsView(ProjectScopedView):
    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        summary="The project's live event stream (text/event-stream)",
        parameters=[
            OpenApiParameter("after", str, description="Replay events after this event id or seq"),
            OpenApiParameter("since", str, description="Replay events after this time"),
            OpenApiParameter(
                "Last-Event-ID",
                str,
                OpenApiParameter.HEADER,
                description="Replay events after this seq (a browser's reconnect); before `after`",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                str,
                description="`connected`, then `session_updated`, `workspace_updated`, "
                "`job_completed` events; `: keep-alive` comments every 15 s",
            ),
            **error_responses(400, 401, 404),
            429: OpenApiResponse(
                ErrorSerializer, description="The user has too many open event streams"
            ),
        },
    )
    def get(self, request: Request, project_id: str) -> StreamingHttpResponse:
        after_seq = replay_start(self.project, request)
        slot = StreamSlot.take(user_id=str(request.user.pk))
        return EventStreamResponse(event_stream(self.project.id, after_seq, slot), slot)
