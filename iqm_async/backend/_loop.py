"""The one event loop behind a sync IQMBackend (private module).

A :class:`ClientLoop` runs an anyio blocking portal (one event loop in one background
thread) and one :class:`AsyncIQMClient` inside it, owned by a single task for its whole life,
so the client's task group is entered and left by the same task. Every sync call goes through
:meth:`ClientLoop.call`; nothing calls ``asyncio.run`` per call, and it works from any thread,
including one whose own event loop is running (Jupyter). Work that outlives a call (collecting
a submitted job's result) runs in one background task group that the same task owns and
cancels before the client closes.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextlib import AsyncExitStack, ExitStack
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup, TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal

from ..client import AsyncIQMClient
from ..errors import ClientClosedError

T = TypeVar("T")

__all__ = ["ClientLoop"]


class ClientLoop:
    """Lazily starts the portal thread and the client on first use; :meth:`close` stops both.

    Args:
        make_client: builds the client; called in the loop's thread.
    """

    def __init__(self, make_client: Callable[[], AsyncIQMClient]) -> None:
        self._make_client = make_client
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._client: AsyncIQMClient | None = None
        self._stop: anyio.Event | None = None
        self._owner: Future[None] | None = None
        self._background: TaskGroup | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """True once the loop thread and the client are running."""
        return self._client is not None

    def call(self, func: Callable[[AsyncIQMClient], Awaitable[T]]) -> T:
        """Run ``func(client)`` on the loop and return its result (blocking this thread)."""
        portal, client = self._ensure_started()
        return portal.call(_apply, func, client)

    def start(self, func: Callable[[AsyncIQMClient], Awaitable[T]]) -> Future[T]:
        """Start ``func(client)`` on the loop without waiting; its future holds the outcome."""
        portal, client = self._ensure_started()
        return portal.start_task_soon(_apply, func, client)

    def start_background(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``func()`` in the background until it ends or the loop closes (it is then
        cancelled). Call it from a coroutine running on this loop; ``func`` must not raise.
        """
        if self._background is None:
            raise ClientClosedError("This IQMBackend is closed; create a new one.")
        self._background.start_soon(func)

    def _ensure_started(self) -> tuple[BlockingPortal, AsyncIQMClient]:
        with self._lock:
            if self._closed:
                raise ClientClosedError("This IQMBackend is closed; create a new one.")
            if self._portal is None or self._client is None:
                stack = ExitStack()
                try:
                    portal = stack.enter_context(start_blocking_portal())
                    self._stop = portal.call(anyio.Event)
                    self._owner, self._client = portal.start_task(self._own_client)
                except BaseException:
                    stack.close()
                    raise
                self._stack, self._portal = stack, portal
            return self._portal, self._client

    async def _own_client(self, *, task_status: TaskStatus[AsyncIQMClient]) -> None:
        assert self._stop is not None
        made = self._make_client()
        async with AsyncExitStack() as stack:
            # Runs last, and also when opening fails (e.g. the server refuses the credentials
            # when asked which API it speaks): AsyncIQMClient's __aenter__ then leaves its
            # connections open, and no __aexit__ follows. Closing twice is harmless.
            stack.push_async_callback(made.aclose)
            client = await stack.enter_async_context(made)
            await self._serve(client, task_status)

    async def _serve(self, client: AsyncIQMClient, task_status: TaskStatus[AsyncIQMClient]) -> None:
        assert self._stop is not None
        async with anyio.create_task_group() as background:
            self._background = background
            task_status.started(client)
            await self._stop.wait()
            self._background = None
            background.cancel_scope.cancel()

    def close(self) -> None:
        """Close the client (logging out if it logged in) and stop the loop thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stack, portal, stop, owner = self._stack, self._portal, self._stop, self._owner
            self._stack = self._portal = self._client = None
        if portal is not None and stop is not None:
            portal.call(stop.set)
        if owner is not None:
            owner.result(timeout=30)
        if stack is not None:
            stack.close()


async def _apply(func: Callable[[AsyncIQMClient], Awaitable[T]], client: AsyncIQMClient) -> T:
    return await func(client)
