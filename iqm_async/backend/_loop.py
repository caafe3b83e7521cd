"""The one event loop behind a sync IQMBackend (private module).

A :class:`BackendLoop` runs an anyio blocking portal (one event loop in one background
thread) and, inside it, one :class:`AsyncIQMClient` and the :class:`AsyncIQMBackend` over
it, both owned by a single task for their whole life, so their task groups are entered and
left by the same task. Every sync call goes through :meth:`BackendLoop.call`; nothing calls
``asyncio.run`` per call, and it works from any thread, including one whose own event loop
is running (Jupyter). Work that outlives a call (collecting a submitted job's result) runs in
the async backend's task group, cancelled before the client closes.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import AsyncExitStack, ExitStack
from typing import TypeVar

import anyio
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal

from ..client import AsyncIQMClient
from ..errors import ClientClosedError
from ._async import AsyncIQMBackend

T = TypeVar("T")

__all__ = ["BackendLoop"]


class BackendLoop:
    """Lazily starts the portal thread, the client and the async backend on first use;
    :meth:`close` stops all three.

    Args:
        make_client: builds the client; called in the loop's thread.
        make_backend: builds the async backend over that client; called there too.
    """

    def __init__(
        self,
        make_client: Callable[[], AsyncIQMClient],
        make_backend: Callable[[AsyncIQMClient], AsyncIQMBackend],
    ) -> None:
        self._make_client = make_client
        self._make_backend = make_backend
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._backend: AsyncIQMBackend | None = None
        self._stop: anyio.Event | None = None
        self._owner: Future[None] | None = None
        self._closed = False
        self._loop_thread: int | None = None

    @property
    def started(self) -> bool:
        """True once the loop thread, the client and the backend are running."""
        return self._backend is not None

    def call(self, func: Callable[[AsyncIQMBackend], Awaitable[T]]) -> T:
        """Run ``func(backend)`` on the loop and return its result (blocking this thread)."""
        portal, backend = self._ensure_started()
        return portal.call(_apply, func, backend)

    def _ensure_started(self) -> tuple[BlockingPortal, AsyncIQMBackend]:
        with self._lock:
            if self._closed:
                raise ClientClosedError("This IQMBackend is closed; create a new one.")
            if self._portal is None or self._backend is None:
                stack = ExitStack()
                try:
                    portal = stack.enter_context(start_blocking_portal())
                    self._stop = portal.call(anyio.Event)
                    self._loop_thread = portal.call(threading.get_ident)
                    self._owner, self._backend = portal.start_task(self._own)
                except BaseException:
                    stack.close()
                    raise
                self._stack, self._portal = stack, portal
            return self._portal, self._backend

    async def _own(self, *, task_status: TaskStatus[AsyncIQMBackend]) -> None:
        assert self._stop is not None
        made = self._make_client()
        async with AsyncExitStack() as stack:
            # Runs last, and also when opening fails (e.g. the server refuses the credentials
            # when asked which API it speaks). Closing twice is harmless.
            stack.push_async_callback(made.aclose)
            client = await stack.enter_async_context(made)
            backend = await stack.enter_async_context(self._make_backend(client))
            task_status.started(backend)
            await self._stop.wait()

    def close(self) -> None:
        """Stop collecting results, close the client (logging out if it logged in) and stop
        the loop thread. Idempotent."""
        if self._portal is not None and threading.get_ident() == self._loop_thread:
            # Collected inside the loop (a callback held the last reference): closing waits
            # for the loop, so it must happen in another thread.
            threading.Thread(target=self.close, name="iqm-backend-close").start()
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            stack, portal, stop, owner = self._stack, self._portal, self._stop, self._owner
            self._stack = self._portal = self._backend = None
        if portal is not None and stop is not None:
            portal.call(stop.set)
        if owner is not None:
            owner.result(timeout=30)
        if stack is not None:
            stack.close()


async def _apply(func: Callable[[AsyncIQMBackend], Awaitable[T]], backend: AsyncIQMBackend) -> T:
    return await func(backend)
