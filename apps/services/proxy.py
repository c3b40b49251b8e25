"""The preview proxy: an ASGI application in front of Django and Channels (mounted by
`discobot.asgi`) that serves preview hosts (`apps.services.preview`), HTTP and WebSocket.

Nothing is buffered: the request body goes upstream as it arrives and the answer comes back a
chunk at a time as the service writes it (an event stream, a long download). A client that
goes away closes the upstream request or WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
from django.conf import settings
from django.core.exceptions import DisallowedHost
from websockets import Origin
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from apps.accounts.websockets import handshake_request, page_allowed, refuse
from apps.core.streams import off_loop
from apps.services.definitions import ServiceDefinition
from apps.services.preview import (
    COOKIE_MAX_AGE_SECONDS,
    COOKIE_NAME,
    LINK_PATH,
    SERVICE_NOT_FOUND,
    PreviewHost,
    preview_cookie_from_link,
    preview_cookie_valid,
    preview_definition_get,
    preview_host_parse,
    preview_next_check,
    preview_session_get,
    preview_signin_url,
    preview_upstream,
)
from apps.workspaces.models import Session
from discobot.errors import ApplicationError

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Headers of one connection, not of the message (RFC 9110 §7.6.1): never passed on.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Made by the WebSocket client itself for its own handshake.
WEBSOCKET_OWN = frozenset(
    {"host", "origin", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol"}
)
WEBSOCKET_OWN |= {"sec-websocket-extensions"}
CONNECT_SECONDS = 10.0
WEBSOCKET_MAX_BYTES = 16 * 1024 * 1024
UPSTREAM_FAILED = "The service did not answer on port {port} in the sandbox"


class BrowserGone(Exception):
    """The browser went away while its request body was being sent upstream."""


class PreviewHostRouter:
    """Requests to a preview host go to the proxy, everything else to `default`."""

    def __init__(self, default: ASGIApp) -> None:
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            preview = preview_host_parse(header(scope, b"host") or "")
            if preview is not None:
                await preview_serve(preview, scope, receive, send)
                return
        await self.default(scope, receive, send)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def resolved(preview: PreviewHost) -> tuple[Session, ServiceDefinition | None]:
    """The session, and the service unless the host names none of its services."""
    session = preview_session_get(preview.session_id)
    try:
        return session, preview_definition_get(session=session, service_id=preview.service_id)
    except ApplicationError:
        return session, None


async def preview_serve(preview: PreviewHost, scope: Scope, receive: Receive, send: Send) -> None:
    websocket = scope["type"] == "websocket"
    request = handshake_request(scope)
    try:
        request.get_host()  # one of ALLOWED_HOSTS, or a DNS-rebinding page could reach it
        if websocket and not page_allowed(request):
            raise DisallowedHost
    except DisallowedHost:
        await (refuse(receive, send) if websocket else error(send, 400, "Host not allowed"))
        return
    try:
        session, definition = await off_loop(resolved)(preview)
    except ApplicationError as failure:
        await (refuse(receive, send) if websocket else error(send, 404, failure.message))
        return
    if definition is not None and scope["path"] == LINK_PATH and not websocket:
        await link_open(scope, send, session, definition)
        return
    cookie = request.COOKIES.get(COOKIE_NAME)
    allowed = definition is not None and await off_loop(preview_cookie_valid)(
        cookie, session=session, definition=definition
    )
    if not allowed:
        if websocket:
            await refuse(receive, send)
        elif definition is None and not settings.AUTH_ENABLED:
            await error(send, 404, SERVICE_NOT_FOUND)
        else:
            next_path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
            if scope.get("query_string"):
                next_path += "?" + scope["query_string"].decode("latin-1")
            await redirect(
                send,
                preview_signin_url(
                    preview=preview, session=session, scheme=scope["scheme"], next_path=next_path
                ),
            )
        return
    assert definition is not None  # noqa: S101 (allowed only with a service)
    try:
        upstream = await off_loop(preview_upstream)(session=session, definition=definition)
    except ApplicationError as failure:
        status = failure.status_code if failure.status_code != 409 else 503
        await (refuse(receive, send) if websocket else error(send, status, failure.message))
        return
    if not definition.passive:
        await port_listening(upstream)
    if websocket:
        await websocket_forward(scope, receive, send, upstream)
    else:
        await http_forward(scope, receive, send, upstream)


async def port_listening(upstream: tuple[str, int]) -> None:
    """Waits (up to CONNECT_SECONDS) for a service just started to listen on its port: a
    preview opened as soon as it runs would otherwise show an error until reloaded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONNECT_SECONDS
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(*upstream), timeout=1.0)
        except (OSError, TimeoutError):
            if loop.time() >= deadline:
                return  # the forward says it did not answer
            await asyncio.sleep(0.2)
        else:
            writer.close()
            return


async def link_open(
    scope: Scope, send: Send, session: Session, definition: ServiceDefinition
) -> None:
    """`/__discobot/preview?token&next`: the API's link turned into this host's cookie."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        next_path = preview_next_check(query.get("next", ["/"])[0])
    except ApplicationError as failure:
        await error(send, 400, failure.message)
        return
    cookie = await off_loop(preview_cookie_from_link)(
        token=query.get("token", [""])[0], session=session, definition=definition
    )
    if cookie is None:
        await error(send, 403, "The preview link is invalid or expired: open the preview again")
        return
    secure = "; Secure" if scope["scheme"] == "https" else ""
    set_cookie = (
        f"{COOKIE_NAME}={cookie}; Max-Age={COOKIE_MAX_AGE_SECONDS}; Path=/; HttpOnly; "
        f"SameSite=Lax{secure}"
    )
    await redirect(send, next_path, extra=[(b"set-cookie", set_cookie.encode())])


# --- HTTP --------------------------------------------------------------------------------------

_client: httpx.AsyncClient | None = None


def http_client() -> httpx.AsyncClient:
    """One pooled client per process (its event loop is the server's one). No timeout on
    reads: an event stream may stay quiet for as long as it likes."""
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=CONNECT_SECONDS, pool=CONNECT_SECONDS),
            follow_redirects=False,
            trust_env=False,  # the sandbox is never reached through the server's HTTP proxy
        )
    return _client


def upstream_headers(scope: Scope, upstream: tuple[str, int]) -> list[tuple[str, str]]:
    """The request's headers for the service: hop-by-hop ones and the preview cookie left
    out, Host the upstream's, X-Forwarded-* saying what the browser asked for."""
    named = {
        token.strip().lower()
        for value in [header(scope, b"connection") or ""]
        for token in value.split(",")
    }
    headers: list[tuple[str, str]] = []
    forwarded_for = ""
    for raw_name, raw_value in scope.get("headers") or []:
        name = bytes(raw_name).decode("latin-1").lower()
        value = bytes(raw_value).decode("latin-1")
        if name in HOP_BY_HOP or name in named or name == "host" or name.startswith("x-forwarded-"):
            if name == "x-forwarded-for":
                forwarded_for = value
            continue
        if name == "cookie":
            value = cookie_without_preview(value)
            if not value:
                continue
        headers.append((name, value))
    client = (scope.get("client") or ("", 0))[0]
    scheme = {"ws": "http", "wss": "https"}.get(str(scope["scheme"]), str(scope["scheme"]))
    headers += [
        ("host", f"{upstream[0]}:{upstream[1]}"),
        ("x-forwarded-for", f"{forwarded_for}, {client}" if forwarded_for else client),
        ("x-forwarded-host", header(scope, b"host") or ""),
        ("x-forwarded-proto", scheme),
    ]
    return headers


def cookie_without_preview(value: str) -> str:
    kept = [part for part in value.split(";") if part.split("=", 1)[0].strip() != COOKIE_NAME]
    return ";".join(kept).strip()


def upstream_url(scope: Scope, scheme: str, upstream: tuple[str, int]) -> str:
    path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scheme}://{upstream[0]}:{upstream[1]}{path}" + (f"?{query}" if query else "")


async def http_forward(
    scope: Scope, receive: Receive, send: Send, upstream: tuple[str, int]
) -> None:
    headers = upstream_headers(scope, upstream)
    has_body = header(scope, b"content-length") not in (None, "0") or (
        header(scope, b"transfer-encoding") is not None
    )
    body_read = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BrowserGone
            yield message.get("body", b"")
            if not message.get("more_body", False):
                body_read.set()
                return

    if not has_body:
        body_read.set()
    request = http_client().build_request(
        scope["method"],
        upstream_url(scope, "http", upstream),
        headers=headers,
        content=body() if has_body else None,
    )

    async def until_disconnect(cancel_scope: anyio.CancelScope) -> None:
        await body_read.wait()
        while (await receive())["type"] != "http.disconnect":
            pass
        cancel_scope.cancel()  # the browser left: the upstream request is closed

    started = False
    async with anyio.create_task_group() as group:
        group.start_soon(until_disconnect, group.cancel_scope)
        try:
            response = await http_client().send(request, stream=True)
        except (httpx.HTTPError, BrowserGone) as failure:
            if not isinstance(failure, BrowserGone):
                await error(send, 502, UPSTREAM_FAILED.format(port=upstream[1]))
            group.cancel_scope.cancel()
            return
        try:
            response_headers = [
                (name.lower(), value)
                for name, value in response.headers.raw
                if name.decode("latin-1").lower() not in HOP_BY_HOP
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response_headers,
                }
            )
            started = True
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError:
            if not started:
                await error(send, 502, UPSTREAM_FAILED.format(port=upstream[1]))
            # Started: the answer ends short, as the service's did.
        finally:
            await response.aclose()
            group.cancel_scope.cancel()


# --- WebSocket ---------------------------------------------------------------------------------


async def websocket_forward(
    scope: Scope, receive: Receive, send: Send, upstream: tuple[str, int]
) -> None:
    """Opens the service's WebSocket first, then accepts the browser's with the subprotocol
    the service chose; frames pass both ways until either side closes, which closes the other."""
    if (await receive())["type"] != "websocket.connect":
        return
    headers = [
        (name, value)
        for name, value in upstream_headers(scope, upstream)
        if name not in WEBSOCKET_OWN
    ]
    try:
        service = await connect(
            upstream_url(scope, "ws", upstream),
            additional_headers=headers,
            origin=Origin(origin) if (origin := header(scope, b"origin")) else None,
            subprotocols=scope.get("subprotocols") or None,
            open_timeout=CONNECT_SECONDS,
            max_size=WEBSOCKET_MAX_BYTES,
            proxy=None,
        )
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as failure:
        logger.info("preview WebSocket to port %s not opened: %s", upstream[1], failure)
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": service.subprotocol})
    async with service, anyio.create_task_group() as group:
        group.start_soon(browser_to_service, receive, service, group.cancel_scope)
        await service_to_browser(service, send)
        group.cancel_scope.cancel()


async def browser_to_service(
    receive: Receive, service: ClientConnection, cancel_scope: anyio.CancelScope
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            await service.close(code=message.get("code") or 1000)
            cancel_scope.cancel()
            return
        try:
            if message.get("bytes") is not None:
                await service.send(message["bytes"])
            elif message.get("text") is not None:
                await service.send(message["text"])
        except ConnectionClosed:
            return  # service_to_browser sees it and closes the browser's side


async def service_to_browser(service: ClientConnection, send: Send) -> None:
    try:
        async for frame in service:
            if isinstance(frame, bytes):
                await send({"type": "websocket.send", "bytes": frame})
            else:
                await send({"type": "websocket.send", "text": frame})
    except ConnectionClosed:
        pass
    code = service.close_code if service.close_code not in (None, 1005, 1006) else 1000
    await send({"type": "websocket.close", "code": code, "reason": service.close_reason or ""})


# --- answers -----------------------------------------------------------------------------------


async def error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def redirect(send: Send, location: str, *, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0"), *extra]
    headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
