"""GET /api/projects/{id}/events: the project's event stream (server-sent events, contract §6).

A stream sends `connected`, then the events the client missed (`Last-Event-ID`, `?after=` or
`?since=`), then live ones: the stream core (`apps.core.streams`) follows the project's
`ProjectEventLog`. What is this endpoint's own is where a stream starts.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from apps.core.streams import (
    EventStreamRenderer,
    EventStreamResponse,
    StreamSlot,
    event_stream,
    sse_frame,
)
from apps.projects.api.base import ProjectScopedView
from apps.projects.events import ProjectEventLog
from apps.projects.models import Project
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer
from discobot.errors import ApplicationError

# ProjectEvent.seq is a BigIntegerField.
MAX_SEQ = 2**63 - 1
# ASCII only: str.isdigit() and float() also accept digits such as "²" or "٣".
SEQ_PATTERN = re.compile(r"[0-9]{1,19}")
UNIX_SECONDS_PATTERN = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
AFTER_INVALID = "after (or Last-Event-ID) must be an event id or seq"
SINCE_INVALID = "since must be RFC 3339 with a time zone, or unix seconds"


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
        stream = event_stream(
            ProjectEventLog(self.project.id),
            after_seq=after_seq,
            slot=slot,
            greeting=sse_frame("connected", {"projectId": self.project.id}),
        )
        return EventStreamResponse(stream, slot)
