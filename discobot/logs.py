"""Log lines that say which request they belong to, as text (`make run`) or as JSON
(LOG_FORMAT=json, one object a line for a log collector).

The request id is one context variable: set for an HTTP request (from a sane `X-Request-ID`,
else a new one, echoed in the response), for the whole life of an event stream or a WebSocket
opened by that request (each runs in its request's own task), and for each attempt of a job
the request enqueued (the job row keeps it). `RequestIdFilter` puts it on every record,
whichever logger wrote it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept when it looks like one (a UUID, a proxy's hex or dotted id): it ends up
# in log lines and a response header, so nothing that could forge either.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_of(header: str | None) -> str:
    """The caller's request id when sane, else a new one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    token = request_id.set(value or None)
    try:
        yield
    finally:
        request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class RequestIdMiddleware:
    """Binds the request id for the rest of the request, and returns it in the X-Request-ID
    header.

    It stays bound after the middleware returns, for what happens then: Django's log line of an
    error response, and an event stream's chunks, which are produced while the response is
    sent. `request_id_unbound` (request_finished) clears it once the response is closed.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        value = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        request_id.set(value)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = value
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        value = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        request_id.set(value)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        response[REQUEST_ID_HEADER] = value
        return response


@receiver(request_finished)
def request_id_unbound(**kwargs: Any) -> None:
    request_id.set(None)


ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class WebSocketRequestId:
    """ASGI middleware: a WebSocket's log lines, for as long as it is open, carry the request
    id of its handshake (the tasks its consumer starts inherit it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        header = next(
            (
                bytes(value).decode("latin-1")
                for name, value in scope.get("headers") or []
                if bytes(name).lower() == REQUEST_ID_HEADER.lower().encode()
            ),
            None,
        )
        with request_id_bound(request_id_of(header)):
            await self.app(scope, receive, send)
