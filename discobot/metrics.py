"""Prometheus metrics (`/metrics`): what this process served, and what the database holds.

Requests and their latencies by route (the URL pattern, never the raw path, so that ids do not
make a series each) and the open WebSockets and event streams are counted by the process that
serves them: with several processes each exposes its own, and Prometheus scrapes each. What
the workers do (chat turns and their tokens, the job queue, the sandboxes) is read from the
database when scraped, by collectors the apps register (`metrics_collector`), so one scrape of
any process has all of it, and this platform module imports no app.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django.http.response import HttpResponseBase, StreamingHttpResponse
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

# Requests that matched no URL pattern (a refusal before routing, a 404 of an unknown path).
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUESTS = Counter(
    "discobot_http_requests",
    "HTTP requests served, by method, route (URL pattern) and status",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "discobot_http_request_duration_seconds",
    "Time until the response's headers, by method and route (an event stream's: until it opens)",
    ["method", "route"],
)
EVENT_STREAMS_OPEN = Gauge(
    "discobot_event_streams_open", "Event streams (text/event-stream) open now", ["route"]
)
WEBSOCKETS_OPEN = Gauge("discobot_websockets_open", "WebSockets open now (accepted)")

Collect = Callable[[], Iterable[Metric]]


class ScrapeCollector(Collector):
    """An app's metrics read at scrape time; a database outage leaves them out of the scrape
    instead of failing it (the process's own series still answer)."""

    def __init__(self, collect: Collect) -> None:
        self.collect_from_database = collect

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self.collect_from_database())
        except DatabaseError:
            logger.warning("metrics: %s skipped, the database is unavailable", self.name)
            return []

    @property
    def name(self) -> str:
        return getattr(self.collect_from_database, "__qualname__", "a collector")

    def describe(self) -> Iterable[Metric]:
        return []  # not asked at registration: the tables need not exist yet


def metrics_collector(collect: Collect) -> Collect:
    """Registers `collect` (yielding prometheus_client metric families) for every scrape."""
    REGISTRY.register(ScrapeCollector(collect))
    return collect


def metrics_allowed(request: HttpRequest) -> bool | None:
    """True: show the metrics; False: the credential is missing or wrong; None: /metrics is
    off (auth on and no METRICS_TOKEN: counts of users' work are not for anyone to read)."""
    token = settings.METRICS_TOKEN
    if not token:
        return None if settings.AUTH_ENABLED else True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED_ROUTE


def event_stream_counted(response: StreamingHttpResponse, route: str) -> None:
    """Counts the stream as open from its first chunk until it ends, however it ends."""
    content = response.streaming_content
    gauge = EVENT_STREAMS_OPEN.labels(route=route)
    if response.is_async:

        async def counted_async() -> AsyncIterator[bytes]:
            gauge.inc()
            try:
                async for chunk in content:  # type: ignore[union-attr]
                    yield chunk
            finally:
                gauge.dec()

        response.streaming_content = counted_async()
        return

    def counted() -> Iterator[bytes]:
        gauge.inc()
        try:
            yield from content  # type: ignore[misc]
        finally:
            gauge.dec()

    response.streaming_content = counted()


class RequestMetricsMiddleware:
    """Counts and times every request by its route; counts open event streams."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        started = time.perf_counter()
        return self.observed(request, self.get_response(request), started)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self.observed(request, await get_response(request), started)

    @staticmethod
    def observed(
        request: HttpRequest, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        route = route_of(request)
        method = request.method or ""
        HTTP_REQUEST_SECONDS.labels(method=method, route=route).observe(
            time.perf_counter() - started
        )
        HTTP_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
        content_type = response.get("Content-Type", "")
        if isinstance(response, StreamingHttpResponse) and content_type.startswith(
            "text/event-stream"
        ):
            event_stream_counted(response, route)
        return response


ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class WebSocketsCounted:
    """ASGI middleware: a WebSocket counts as open from its accept until its consumer ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        accepted = False

        async def counted_send(message: Any) -> None:
            nonlocal accepted
            await send(message)
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                WEBSOCKETS_OPEN.inc()

        try:
            await self.app(scope, receive, counted_send)
        finally:
            if accepted:
                WEBSOCKETS_OPEN.dec()
