"""GET /api/projects/{id}/events: the project's event stream (server-sent events, contract §6).

A stream sends `connected`, then the events the client missed (`?after=`, `?since=` or the
Last-Event-ID header), then live ones. The ProjectEvent table is the source of truth: a stream
reads everything after the last seq it sent, so it can neither skip nor repeat an event. The
channel layer only wakes it (at once, across processes with Redis); a periodic re-read covers
writers whose wake-up cannot reach it (a worker process with the in-memory layer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from apps.projects.api.base import ProjectScopedView
from apps.projects.models import Project, ProjectEvent
from apps.projects.services import project_events_group
from discobot.errors import ApplicationError

REPLAY_BATCH = 500


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
    """The seq after which this stream starts: from `after`, `since`, Last-Event-ID, or now."""
    after = request.query_params.get("after") or request.headers.get("Last-Event-ID")
    since = request.query_params.get("since")
    if after:
        if after.isdigit():
            return int(after)
        try:
            event_id = uuid.UUID(after)
        except ValueError:
            raise ApplicationError("after must be an event id or seq") from None
        seq = project.events.filter(id=event_id).values_list("seq", flat=True).first()
        if seq is None:
            raise ApplicationError("after names no event of this project")
        return seq
    if since:
        moment = (
            datetime.fromtimestamp(float(since), tz=UTC)
            if since.replace(".", "", 1).isdigit()
            else parse_datetime(since)
        )
        if moment is None or moment.tzinfo is None:
            raise ApplicationError("since must be RFC 3339 with a time zone, or unix seconds")
        first = project.events.filter(created_at__gt=moment).order_by("seq").first()
        return first.seq - 1 if first else project.last_event_seq
    return project.last_event_seq


def events_after(project_id: str, seq: int) -> list[ProjectEvent]:
    return list(
        ProjectEvent.objects.filter(project_id=project_id, seq__gt=seq).order_by("seq")[
            :REPLAY_BATCH
        ]
    )


async def event_stream(project_id: str, after_seq: int | None) -> AsyncIterator[str]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = project_events_group(project_id)
    # Listen before reading, so that nothing committed in between is missed.
    await layer.group_add(group, channel)
    try:
        yield sse_frame("connected", {"projectId": project_id})
        last_seq = after_seq
        if last_seq is None:
            project = await Project.objects.aget(id=project_id)
            last_seq = project.last_event_seq
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        wait = min(settings.EVENTS_POLL_SECONDS, settings.EVENTS_KEEPALIVE_SECONDS)
        while True:
            events = await sync_to_async(events_after)(project_id, last_seq)
            for event in events:
                yield sse_frame(event.type, event_payload(event), event.seq)
                last_seq = event.seq
            if events:
                last_sent = loop.time()
                if len(events) == REPLAY_BATCH:
                    continue  # more history to send
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(layer.receive(channel), timeout=wait)
            if loop.time() - last_sent >= settings.EVENTS_KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = loop.time()
    finally:
        await layer.group_discard(group, channel)


class ProjectEventsView(ProjectScopedView):
    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        summary="The project's live event stream (text/event-stream)",
        parameters=[
            OpenApiParameter("after", str, description="Replay events after this event id or seq"),
            OpenApiParameter("since", str, description="Replay events after this time"),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                str,
                description="`connected`, then `session_updated`, `workspace_updated`, "
                "`job_completed` events; `: keep-alive` comments every 15 s",
            ),
        },
    )
    def get(self, request: Request, project_id: str) -> StreamingHttpResponse:
        after_seq = replay_start(self.project, request) if self.wants_replay(request) else None
        response = StreamingHttpResponse(
            event_stream(self.project.id, after_seq), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    def wants_replay(self, request: Request) -> bool:
        return any(
            (
                request.query_params.get("after"),
                request.query_params.get("since"),
                request.headers.get("Last-Event-ID"),
            )
        )
