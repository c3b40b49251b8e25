"""Request-body limit, at the two places a body can be refused: the ASGI application (before
Django reads a byte of it) and Django's middleware (for every handler, with CORS headers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.deprecation import MiddlewareMixin

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


def body_limit_message() -> str:
    return f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"


def declared_length_too_large(content_length: str | bytes | None) -> bool:
    try:
        return int(content_length or 0) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    except ValueError:
        return False  # the server refuses a malformed Content-Length before we see it


class RequestBodyLimitMiddleware(MiddlewareMixin):
    """413 for a body declared larger than DATA_UPLOAD_MAX_MEMORY_SIZE, before authentication
    and CSRF checks, so that every path, signed in or not, answers the same way."""

    def process_request(self, request: HttpRequest) -> JsonResponse | None:
        if declared_length_too_large(request.META.get("CONTENT_LENGTH")):
            return JsonResponse({"error": body_limit_message()}, status=413)
        return None


class RequestBodyLimit:
    """ASGI middleware in front of Django, whose handler reads a whole body before any
    middleware runs. A body declared too large is never read: Django gets an empty one and
    its middleware answers 413 from the declared length. A body without a length (chunked)
    is cut off once it passes the limit and answered here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if declared_length_too_large(headers.get(b"content-length")):
            await self.app(scope, body_skipped(receive), send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                    # Django's handler stops reading and answers nothing; we answer below.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counting_receive, send)
        if too_large:
            body = JsonResponse({"error": body_limit_message()}).content
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def body_skipped(receive: Receive) -> Receive:
    """A `receive` whose body is empty; what the client sent is passed over unread."""
    ended = False

    async def skipping_receive() -> Message:
        nonlocal ended
        if not ended:
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message

    return skipping_receive
