"""The HTTP boundary of a client: every request to the server goes through :class:`Transport`.

It sends :class:`Route` s (method, path, label) through one ``httpx.AsyncClient`` under a
connection limit, counts them, turns failures into :class:`AttemptFailed`, and retries with
:func:`call_with_retries`. What a route is and how a reply reads is the API variant's
business (:mod:`iqm_async.api`), handed in as functions.

Each request has one overall deadline (:func:`request_deadline_s`) around connect, send and
the whole reply: httpx times each read on its own, so a reply that trickles in a byte at a
time would otherwise never time out. The transport also counts connection failures in a row,
so that waits can learn that the server cannot be reached (:meth:`Transport.unreachable_error`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from ..errors import AuthServerUnavailableError, ConnectError, RequestTimeoutError
from ..policies import Failure, FailureKind, RetryPolicy, poll_connections
from ._redact import server_message
from ._retry import (
    AttemptFailed,
    ErrorReader,
    call_with_retries,
    error_from_exception,
    error_from_response,
    failure_from_exception,
    failure_from_response,
)

__all__ = ["Route", "Transport", "request_deadline_s"]

T = TypeVar("T")
_JSON_CONTENT = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Route:
    """One request: its method, its path below the client's base URL, and a label.

    Attributes:
        method: ``"GET"``, ``"POST"``, ``"DELETE"``, ...
        path: relative to the client's URL, without a leading ``/``.
        kind: what the request is for, counted in ``AsyncIQMClient.requests_by_kind``:
            ``submit``, ``status``, ``result``, ``counts``, ``abort``, ``delete``,
            ``architecture``.
    """

    method: str
    path: str
    kind: str


def request_deadline_s(timeout: httpx.Timeout) -> float | None:
    """The overall deadline of one request (connect, send and the whole reply) in seconds:
    the largest of the timeout's connect, write and read limits, so ``timeout=5`` (every
    part 5 s) bounds each request at 5 s. ``None`` when none is set (no deadline).

    The pool limit is left out: requests queue for a connection in the :class:`Transport`,
    before their deadline starts.
    """
    parts = [t for t in (timeout.connect, timeout.write, timeout.read) if t is not None]
    return max(parts) if parts else None


class _SendTrace:
    """How far one request got, from httpcore's ``trace`` extension: whether a TCP connect
    began and whether the request's headers started to go out (then the server may act)."""

    def __init__(self) -> None:
        self.connecting = False
        self.sent = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self.sent = True
        elif event.endswith("connect_tcp.started"):
            self.connecting = True


class Transport:
    """Sends requests through one ``httpx.AsyncClient`` with a connection limit and retries.

    Args:
        http: the client's ``httpx.AsyncClient`` (base URL, auth and timeouts set). Its
            timeout also gives each request's overall deadline (:func:`request_deadline_s`).
        retry: the retry policy (also when the server counts as unreachable).
        max_connections: requests in flight at once; more wait here, not in httpx's pool,
            so a long queue never trips the pool timeout. The poller's requests (status
            polls, result fetches) may hold only
            :func:`~iqm_async.policies.poll_connections` of them (:attr:`poll_limiter`).
        error_text: reads the server's explanation out of an error reply (the API
            variant's; default: ``detail`` or ``message`` of a JSON body).
        traced: ``http`` sends through httpcore (httpx's own transport), whose ``trace``
            extension tells whether a request that ran out of time had been sent. With any
            other transport (``httpx.ASGITransport``, mocks) such a request counts as sent,
            so a submit is never resent on a guess.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        max_connections: int,
        *,
        error_text: ErrorReader = server_message,
        traced: bool = False,
    ) -> None:
        self.http = http
        self.retry = retry
        self.limiter = anyio.CapacityLimiter(max_connections)
        self.poll_limiter = anyio.CapacityLimiter(poll_connections(max_connections))
        self.deadline_s = request_deadline_s(http.timeout)
        self.request_count = 0
        self.requests_by_kind: dict[str, int] = {}
        self._error_text = error_text
        self._traced = traced
        self._connect_failures = 0  # connection attempts in a row that failed
        self._failing_since: float | None = None  # when the first of them failed
        self._last_connect_error: ConnectError | None = None

    # --- is the server there? -----------------------------------------------------------------

    def _connect_failed(self, error: ConnectError) -> None:
        self._connect_failures += 1
        if self._failing_since is None:
            self._failing_since = anyio.current_time()
        self._last_connect_error = error

    def _server_answered(self) -> None:
        self._connect_failures = 0
        self._failing_since = None
        self._last_connect_error = None

    def server_unreachable(self) -> bool:
        """True when connections to the server have failed long enough, with no answer in
        between, for the retry policy to call it unreachable
        (:meth:`~iqm_async.policies.RetryPolicy.server_unreachable`)."""
        if self._failing_since is None:
            return False
        failing_for = anyio.current_time() - self._failing_since
        return self.retry.server_unreachable(self._connect_failures, failing_for)

    def unreachable_error(self) -> ConnectError | None:
        """The error that tells a waiter the server cannot be reached, naming its URL and the
        last connection failure; ``None`` while it may still be reachable."""
        if not self.server_unreachable() or self._failing_since is None:
            return None
        url = str(self.http.base_url)
        failing_for = anyio.current_time() - self._failing_since
        last = self._last_connect_error
        return ConnectError(
            f"The server at {url} cannot be reached: {self._connect_failures} connection "
            f"attempts in a row failed over {failing_for:.1f} s"
            + (f" (the last: {last})" if last is not None else ".")
            + " Check the URL, the network and that the server is up; jobs already submitted "
            "go on if it is, and can be waited for again.",
            url=url,
        )

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` (for messages; it holds no credentials)."""
        return str(self.http.base_url.join(path))

    async def send_once(
        self,
        route: Route,
        *,
        body: bytes | None = None,
        limited: bool = True,
        background: bool = False,
    ) -> httpx.Response:
        """Send one request; a success response is returned, anything else raises
        :class:`AttemptFailed`. ``limited=False`` when the caller already holds a
        connection slot; ``background=True`` for the poller's requests, which take a slot
        of :attr:`poll_limiter` first (always in this order: no deadlock)."""
        if not limited:
            return await self._send(route, body)
        if background:
            async with self.poll_limiter, self.limiter:
                return await self._send(route, body)
        async with self.limiter:
            return await self._send(route, body)

    async def _send(self, route: Route, body: bytes | None) -> httpx.Response:
        self.request_count += 1
        self.requests_by_kind[route.kind] = self.requests_by_kind.get(route.kind, 0) + 1
        trace = _SendTrace()
        extensions = {"trace": trace} if self._traced else None
        headers = None if body is None else _JSON_CONTENT
        response: httpx.Response | None = None
        try:
            # httpx reads the whole body inside request(), so the deadline covers it all.
            with anyio.move_on_after(math.inf if self.deadline_s is None else self.deadline_s):
                response = await self.http.request(
                    route.method, route.path, content=body, headers=headers, extensions=extensions
                )
        except AuthServerUnavailableError as exc:
            # No token could be fetched, so this request never left: like a connect error.
            raise AttemptFailed(Failure(FailureKind.CONNECT), exc) from None
        except httpx.TransportError as exc:
            # URLs are built for messages only when something failed: joining costs time.
            no_answer = error_from_exception(exc, self.url_for(route.path))
            failure = failure_from_exception(exc)
            if isinstance(no_answer, ConnectError) and isinstance(
                exc, httpx.ConnectError | httpx.ConnectTimeout
            ):
                self._connect_failed(no_answer)
            elif failure.kind is not FailureKind.CONNECT:
                self._server_answered()  # a connection was made: the server is there
            raise AttemptFailed(failure, no_answer) from None
        if response is None:
            raise self._out_of_time(route, trace)
        self._server_answered()
        if response.is_success:
            return response
        refusal = error_from_response(response, str(response.request.url), self._error_text)
        raise AttemptFailed(failure_from_response(response), refusal, response)

    def _out_of_time(self, route: Route, trace: _SendTrace) -> AttemptFailed:
        """The failure of a request whose overall deadline passed before its reply was whole."""
        url = self.url_for(route.path)
        deadline = f"{self.deadline_s:g} s"
        if self._traced and not trace.sent:
            # The request never went out (no connection, or no token in time): safe to resend.
            error = ConnectError(
                f"No connection to {url} within the request's deadline of {deadline}; the "
                "request was not sent. Check the URL, the network and that the server is up.",
                url=url,
            )
            if trace.connecting:
                self._connect_failed(error)
            return AttemptFailed(Failure(FailureKind.CONNECT), error)
        self._server_answered()
        return AttemptFailed(
            Failure(FailureKind.TIMEOUT),
            RequestTimeoutError(
                f"No complete answer from {url} within the request's deadline of {deadline} "
                "(the reply was too slow or stalled). The server may be busy; retry later or "
                "raise the client's timeout.",
                url=url,
            ),
        )

    async def request(
        self,
        route: Route,
        read: Callable[[httpx.Response], T],
        *,
        body: bytes | None = None,
        until_cancelled: bool = False,
        give_up: Callable[[], bool] | None = None,
        background: bool = False,
    ) -> T:
        """Send ``route`` and ``read`` the reply, retrying transient faults (a read, or an
        idempotent POST such as an abort). ``until_cancelled`` and ``give_up``: see
        :func:`call_with_retries`; ``background``: see :meth:`send_once`.
        """

        async def attempt() -> T:
            return read(await self.send_once(route, body=body, background=background))

        return await call_with_retries(
            attempt, self.retry, until_cancelled=until_cancelled, give_up=give_up
        )

    async def submit(self, route: Route, body: bytes, read: Callable[[httpx.Response], T]) -> T:
        """POST a job and ``read`` the reply (its id, ...). Resent only when the server cannot
        have acted on it."""

        async def attempt() -> T:
            return read(await self.send_once(route, body=body))

        return await call_with_retries(attempt, self.retry, submit=True)
