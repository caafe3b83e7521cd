"""The HTTP boundary of a client: every request to the server goes through :class:`Transport`.

It sends :class:`Route` s (method, path, label) through one ``httpx.AsyncClient`` under a
connection limit, counts them, turns failures into :class:`AttemptFailed`, and retries with
:func:`call_with_retries`. What a route is and how a reply reads is the API variant's
business (:mod:`iqm_async.api`), handed in as functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import httpx

from ..errors import AuthServerUnavailableError
from ..policies import Failure, FailureKind, RetryPolicy
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

__all__ = ["Route", "Transport"]

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


class Transport:
    """Sends requests through one ``httpx.AsyncClient`` with a connection limit and retries.

    Args:
        http: the client's ``httpx.AsyncClient`` (base URL, auth and timeouts set).
        retry: the retry policy.
        max_connections: requests in flight at once; more wait here, not in httpx's pool,
            so a long queue never trips the pool timeout.
        error_text: reads the server's explanation out of an error reply (the API
            variant's; default: ``detail`` or ``message`` of a JSON body).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        max_connections: int,
        *,
        error_text: ErrorReader = server_message,
    ) -> None:
        self.http = http
        self.retry = retry
        self.limiter = anyio.CapacityLimiter(max_connections)
        self.request_count = 0
        self.requests_by_kind: dict[str, int] = {}
        self._error_text = error_text

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` (for messages; it holds no credentials)."""
        return str(self.http.base_url.join(path))

    async def send_once(
        self, route: Route, *, body: bytes | None = None, limited: bool = True
    ) -> httpx.Response:
        """Send one request; a success response is returned, anything else raises
        :class:`AttemptFailed`. ``limited=False`` when the caller already holds a
        connection slot."""
        if limited:
            async with self.limiter:
                return await self._send(route, body)
        return await self._send(route, body)

    async def _send(self, route: Route, body: bytes | None) -> httpx.Response:
        self.request_count += 1
        self.requests_by_kind[route.kind] = self.requests_by_kind.get(route.kind, 0) + 1
        try:
            if body is None:
                response = await self.http.request(route.method, route.path)
            else:
                response = await self.http.request(
                    route.method, route.path, content=body, headers=_JSON_CONTENT
                )
        except AuthServerUnavailableError as exc:
            # No token could be fetched, so this request never left: like a connect error.
            raise AttemptFailed(Failure(FailureKind.CONNECT), exc) from None
        except httpx.TransportError as exc:
            # URLs are built for messages only when something failed: joining costs time.
            no_answer = error_from_exception(exc, self.url_for(route.path))
            raise AttemptFailed(failure_from_exception(exc), no_answer) from None
        if response.is_success:
            return response
        refusal = error_from_response(response, str(response.request.url), self._error_text)
        raise AttemptFailed(failure_from_response(response), refusal, response)

    async def request(
        self,
        route: Route,
        read: Callable[[httpx.Response], T],
        *,
        body: bytes | None = None,
        until_cancelled: bool = False,
    ) -> T:
        """Send ``route`` and ``read`` the reply, retrying transient faults (a read, or an
        idempotent POST such as an abort). ``until_cancelled``: see :func:`call_with_retries`.
        """

        async def attempt() -> T:
            return read(await self.send_once(route, body=body))

        return await call_with_retries(attempt, self.retry, until_cancelled=until_cancelled)

    async def submit(self, route: Route, body: bytes, read: Callable[[httpx.Response], T]) -> T:
        """POST a job and ``read`` the reply (its id, ...). Resent only when the server cannot
        have acted on it."""

        async def attempt() -> T:
            return read(await self.send_once(route, body=body))

        return await call_with_retries(attempt, self.retry, submit=True)
