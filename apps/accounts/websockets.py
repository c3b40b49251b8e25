"""The door of every WebSocket: who is calling, and from which page.

A browser lets any web page open a WebSocket to any server and sends that server's cookies
along (cross-site WebSocket hijacking), so a handshake is refused unless its `Origin` is this
server or one of CORS_ORIGINS. That holds in anonymous mode too: there the server trusts
whoever can reach it, and a page on another site must not drive a local user's sandbox. The
`Host` must be one of ALLOWED_HOSTS as for HTTP, or a DNS-rebinding page would be "this server".
A handshake without an `Origin` comes from a program, not a page, and needs credentials only.

With AUTH_ENABLED=true the caller is resolved by `caller_resolve`, as for HTTP (same session
cookie, same bearer token, same failure counter per address). A refusal closes the handshake
before it is accepted (the client sees HTTP 403) and before any consumer code runs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest

from apps.accounts.callers import Caller, caller_resolve

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def handshake_request(scope: Scope) -> HttpRequest:
    """The handshake read as Django reads any HTTP request (headers, cookies, client address)."""
    return ASGIRequest({**scope, "method": "GET"}, io.BytesIO())


def page_allowed(request: HttpRequest) -> bool:
    """The Host is one of ALLOWED_HOSTS, and the Origin (if any) is this server or a CORS one."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        if urlsplit(origin).netloc.lower() == host.lower():
            return True
    except ValueError:  # not a URL at all ("http://[::1")
        return False
    return any(re.match(pattern, origin) for pattern in settings.CORS_ALLOWED_ORIGIN_REGEXES)


class WebSocketCallerMiddleware:
    """Refuses a handshake from a foreign page or without valid credentials; otherwise puts
    the caller in `scope["user"]` (and the whole `Caller` in `scope["caller"]`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        request = handshake_request(scope)
        if not page_allowed(request):
            await refuse(receive, send)
            return
        caller: Caller = await database_sync_to_async(caller_resolve)(request=request)
        if caller.user is None:
            await refuse(receive, send)
            return
        await self.app({**scope, "user": caller.user, "caller": caller}, receive, send)


async def refuse(receive: Receive, send: Send) -> None:
    """Closes before accepting, which servers answer with HTTP 403 at the handshake."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})  # policy violation
