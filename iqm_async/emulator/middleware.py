"""The outermost ASGI layer: request counting, latency and fault injection.

It wraps the whole FastAPI stack (error handling included), so every answer is counted and a
fault can stand in for any answer. ``/_emulator/*`` passes straight through: never counted,
never faulted.

A dropped connection is dropped *after* the route ran (a submit may have created its job):
the route's answer goes to a buffer that is thrown away, then the TCP connection is aborted.
Under uvicorn (httptools or h11) the ``send`` callable is a bound method of the connection's
request cycle, whose ``transport`` can be aborted. Anywhere else (``httpx.ASGITransport`` in
tests) the middleware raises ``httpx.RemoteProtocolError``, which ASGITransport hands to the
client exactly like a real disconnect.

A trickled answer is the route's own answer (the route ran: a submit created its job), sent
as a hostile or overloaded server might: headers at once, then the body one byte per gap,
led by spaces (JSON allows them) so that it lasts at least ``trickle_s``. Each byte comes
well within any read timeout, so only a deadline on the whole request ends the wait. The
trickle stops when the client hangs up.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import Fault
from .server_jobdata import error_body, is_server_api_path

if TYPE_CHECKING:
    from .core import Emulator

__all__ = ["EmulatorMiddleware"]

PRIVATE_PREFIX = "/_emulator/"
_NO_ROUTE = "<no route>"
# After aborting a transport, uvicorn learns of the lost connection one loop turn later;
# waiting for it keeps uvicorn from trying to send a 500 on the dead connection.
_MAX_TURNS_FOR_DISCONNECT = 20


def _route_key(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None) or _NO_ROUTE
    return f"{scope['method']} {path}"


class _Swallow:
    """A ``send`` that discards the answer of a request whose connection will be dropped,
    keeping only its status (0 if the route never answered)."""

    def __init__(self) -> None:
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])


class _Hold:
    """A ``send`` that keeps the route's answer, to be sent on later (trickled)."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body = bytearray()

    @property
    def status(self) -> int:
        return 0 if self.start is None else int(self.start["status"])

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


class EmulatorMiddleware:
    """Counts requests and responses, adds latency and injects faults (see module doc)."""

    def __init__(self, app: ASGIApp, emulator: Emulator, routes: list[BaseRoute]) -> None:
        self.app = app
        self.emulator = emulator
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PRIVATE_PREFIX):
            await self.app(scope, receive, send)
            return
        counters = self.emulator.counters
        counters.requests_total += 1
        responses = counters.responses_by_status

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                responses[str(message["status"])] += 1
            await send(message)

        faults = self.emulator.faults
        fault: Fault | None = None
        if faults.active and faults.applies(scope["method"], scope["path"]):
            delay = faults.latency()
            if delay > 0.0:
                await anyio.sleep(delay)
            fault = faults.draw()
        if fault is None:
            try:
                await self.app(scope, receive, counting_send)
            finally:
                counters.requests_by_route[_route_key(scope)] += 1
            return
        counters.faults_injected[fault.kind] += 1
        if fault.kind == "drop":
            swallowed = _Swallow()
            try:
                await self.app(scope, receive, swallowed)
            finally:
                route = _route_key(scope)
                counters.requests_by_route[route] += 1
                counters.faults_by_route[route][f"drop {swallowed.status}"] += 1
            await _drop_connection(send)
            return
        if fault.kind == "trickle":
            held = _Hold()
            try:
                await self.app(scope, receive, held)
            finally:
                route = _route_key(scope)
                counters.requests_by_route[route] += 1
                counters.faults_by_route[route][f"trickle {held.status}"] += 1
            await _trickle(held, counting_send, send, faults.trickle_gap_s, faults.trickle_s)
            return
        route = self._match_route(scope)
        counters.requests_by_route[route] += 1
        counters.faults_by_route[route][str(fault.status)] += 1
        retry_after = self.emulator.faults.retry_after_header()
        await _send_fault(fault, retry_after, is_server_api_path(scope["path"]), counting_send)

    def _match_route(self, scope: Scope) -> str:
        """The route template of a request that never reached the router."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return f"{scope['method']} {getattr(route, 'path', _NO_ROUTE)}"
        return f"{scope['method']} {_NO_ROUTE}"


async def _send_fault(fault: Fault, retry_after: str, server_api: bool, send: Send) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if fault.kind == "429":
        detail = f"Too many requests (emulated throttling); retry after {retry_after} s"
        headers.append((b"retry-after", retry_after.encode()))
    else:
        detail = f"Emulated server fault: HTTP {fault.status}; retry later"
    if server_api:  # era F: iqm-client 36 needs an IQMServerError with a string message
        code = "too_many_requests" if fault.kind == "429" else "emulated_fault"
        body = json.dumps(error_body(detail, code)).encode()
    else:
        body = json.dumps({"detail": detail}).encode()
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _trickle(held: _Hold, send: Send, raw_send: Send, gap_s: float, least_s: float) -> None:
    """Send the held answer one byte every ``gap_s``, lasting at least ``least_s``; stop as
    soon as the client hangs up (``raw_send`` is uvicorn's, which knows)."""
    if held.start is None:
        return  # the route never answered; the server's error handling already did
    body = bytes(held.body)
    if body and held.status not in (204, 304):
        body = b" " * max(0, math.ceil(least_s / gap_s) - len(body)) + body
    headers = [(k, v) for k, v in held.start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**held.start, "headers": headers})
    cycle: Any = getattr(raw_send, "__self__", None)
    for index in range(len(body)):
        if getattr(cycle, "disconnected", False):
            return
        more = index + 1 < len(body)
        await send(
            {"type": "http.response.body", "body": body[index : index + 1], "more_body": more}
        )
        if more:
            await anyio.sleep(gap_s)
    if not body:
        await send({"type": "http.response.body", "body": b""})


async def _drop_connection(send: Send) -> None:
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport.abort()
    for _ in range(_MAX_TURNS_FOR_DISCONNECT):
        if getattr(cycle, "disconnected", True):
            return
        await anyio.lowlevel.checkpoint()
