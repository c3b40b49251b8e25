"""Which Django handler serves an HTTP request: the thread pool (WSGI) or the event loop (ASGI).

Measured on this project (docs/decisions.md, "Serving"): Django's ASGI handler spends about
1.5 ms of CPU on every request outside the view (a new thread per request, and a hop between
the loop and that thread around each piece of sync code), four times what its WSGI handler
spends. So an ordinary request runs in Django's WSGI handler on a fixed pool of threads that
keep their database connections, and only the views whose answer streams (those that can
render `text/event-stream`) are served by the ASGI handler, where a stream waits on the event
loop instead of holding a thread for as long as it is open.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from asgiref.sync import sync_to_async
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from asgiref.wsgi import WsgiToAsgiInstance
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.urls import Resolver404, resolve

from apps.core.streams import EventStreamRenderer, ServerLoop

# The WSGI adapter's own method, run here on the pool rather than on asgiref's single thread.
_run_wsgi_app = WsgiToAsgiInstance.__dict__["run_wsgi_app"].func


class PooledWsgiInstance(WsgiToAsgiInstance):
    """asgiref's WSGI adapter, run on a pool of threads. The response (never a stream: those
    are served on the loop) is gathered in the thread and sent from the loop afterwards, one
    hop instead of one per message."""

    executor: ThreadPoolExecutor
    send: ASGISendCallable

    async def run_wsgi_app(self, body: Any) -> None:
        messages: list[Any] = []
        self.sync_send = messages.append  # type: ignore[assignment]
        await sync_to_async(self.in_own_context, thread_sensitive=False, executor=self.executor)(
            body
        )
        for message in messages:
            await self.send(message)

    def in_own_context(self, body: Any) -> None:
        # A context of its own: asgiref's helpers keep state in context variables whose values
        # are shared, mutable objects, and a request's must not reach the loop's other requests
        # (seen: a stream wake-up's executor left behind failed the next request on the
        # connection with "CurrentThreadExecutor already quit"). In a thread of sync_to_async,
        # async_to_sync (a write's stream wake-up) still runs on this process's event loop,
        # whose in-memory channel layer the streams listen on.
        contextvars.Context().run(_run_wsgi_app, self, body)


@lru_cache(maxsize=4096)
def streams(path: str) -> bool:
    """Whether the view at `path` can answer with an event stream."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None)
    return EventStreamRenderer in getattr(view_class, "renderer_classes", ())


class RequestAbandoned(Exception):
    """The client went away while sending its body (or it was cut off as too large)."""


class ThreadsOrLoop:
    """Django over HTTP: streaming views on the event loop, everything else on the threads."""

    def __init__(self, *, asgi: ASGIHandler, wsgi: WSGIHandler, threads: int) -> None:
        self.asgi = asgi
        self.wsgi = wsgi
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="http")

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        ServerLoop.running = asyncio.get_running_loop()
        if streams(scope["path"]):  # type: ignore[typeddict-item]
            await self.asgi(scope, receive, send)  # type: ignore[arg-type]
            return

        async def request_receive() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAbandoned
            return message

        instance = PooledWsgiInstance(self.wsgi)  # type: ignore[no-untyped-call]
        instance.executor = self.executor
        instance.send = send
        try:
            await instance(scope, request_receive, send)
        except RequestAbandoned:
            return  # as Django's ASGI handler does: nobody is left to answer (or the caller does)
