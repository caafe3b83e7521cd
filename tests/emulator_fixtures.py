"""Emulator fixtures any test module can use (``conftest.py`` imports them).

- ``emulator_app``: a fresh in-process app, parallel instant jobs, seed 1234.
- ``asgi_client_factory``: ``async with asgi_client_factory(app) as client`` gives an
  ``httpx.AsyncClient`` on ``httpx.ASGITransport(app)`` with base URL ``http://emulator``.
- ``live_emulator``: one real loopback server per test module (uvicorn in a thread),
  parallel instant jobs, seed 1234; a :class:`LiveEmulator` with ``url`` and ``emulator``.
- ``live_emulator_factory``: start extra loopback servers with any config in one test.

Helpers for tests that start a server in a child process: :func:`free_port` and
:func:`first_reply`.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from iqm_async.emulator import Emulator, EmulatorConfig, create_app, running_emulator_with_state
from iqm_async.emulator.app import TOKEN_PATH

__all__ = [
    "ASGI_BASE_URL",
    "INSTANT",
    "LiveEmulator",
    "asgi_client_factory",
    "emulator_app",
    "first_reply",
    "free_port",
    "live_emulator",
    "live_emulator_factory",
]

ASGI_BASE_URL = "http://emulator"
INSTANT = EmulatorConfig(seed=1234, parallel=True, job_seconds=0.0)
"""Parallel instant jobs: a job is ready at the first status query after submit."""


def access_token(url: str, username: str, password: str) -> str:
    """A fresh access token (a JWT) from the password grant of the emulator at ``url``."""
    form = {
        "grant_type": "password",
        "client_id": "iqm_client",
        "username": username,
        "password": password,
    }
    reply = httpx.post(url + TOKEN_PATH, data=form, timeout=10)
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def first_reply(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> httpx.Response:
    """GET ``url`` until the server in ``process`` answers; fail the test, with the process's
    output when it was piped, if it exits first or does not answer within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if process.poll() is not None:  # its output is complete only once it has exited
                output = process.stdout.read() if process.stdout else b""
                raise AssertionError(f"the server exited early: {output!r}") from None
            assert time.monotonic() < deadline, f"the server did not answer in {timeout_s:g} s"
            time.sleep(0.1)


@dataclass(frozen=True)
class LiveEmulator:
    """A running loopback emulator: its base URL and its state object."""

    url: str
    emulator: Emulator


@pytest.fixture
def emulator_app() -> FastAPI:
    """A fresh in-process emulator app: parallel instant jobs, seed 1234."""
    return create_app(EmulatorConfig(seed=1234, parallel=True, job_seconds=0.0))


@pytest.fixture
def asgi_client_factory() -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``asgi_client_factory(app, **client_kwargs)`` -> async context manager of a client."""

    @asynccontextmanager
    async def factory(app: FastAPI, **kwargs: object) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url=ASGI_BASE_URL,
            **kwargs,  # type: ignore[arg-type]
        ) as client:
            yield client

    return factory


@pytest.fixture(scope="module")
def live_emulator() -> Iterator[LiveEmulator]:
    """A real server on 127.0.0.1 for the whole test module: parallel instant jobs, seed 1234.

    Shared by the module's tests, so reset its counters (``emulator.reset_stats()``) before
    asserting on stats.
    """
    with running_emulator_with_state(INSTANT) as (url, emulator):
        yield LiveEmulator(url, emulator)


@pytest.fixture
def live_emulator_factory() -> Iterator[Callable[[EmulatorConfig], LiveEmulator]]:
    """Start loopback emulators with any config; all stop when the test ends."""
    with ExitStack() as stack:

        def start(config: EmulatorConfig) -> LiveEmulator:
            url, emulator = stack.enter_context(running_emulator_with_state(config))
            return LiveEmulator(url, emulator)

        yield start
