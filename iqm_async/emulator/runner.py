"""Serve the emulator with uvicorn: on loopback in a background thread, or from the CLI."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any, Literal

import uvicorn

from ..errors import ConfigurationError
from .app import create_app
from .config import EmulatorConfig
from .core import Emulator

__all__ = ["running_emulator", "running_emulator_with_state", "serve"]

HttpImplementation = Literal["auto", "h11", "httptools"]
_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def _uvicorn_config(app: Any, http: HttpImplementation, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=http,
        lifespan="off",  # the app needs no startup events
        log_level="warning",
        # Never reconfigure the host process's logging: uvicorn's records propagate to it.
        log_config=None,
        access_log=False,
        # Keep idle client connections open long enough for pooled clients to reuse them.
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
        **extra,
    )


@contextmanager
def running_emulator_with_state(
    config: EmulatorConfig | None = None, *, http: HttpImplementation = "auto"
) -> Iterator[tuple[str, Emulator]]:
    """Serve a fresh emulator on 127.0.0.1 (a free port) in a background thread.

    Yields ``(base_url, emulator)``, e.g. ``("http://127.0.0.1:54321", <Emulator>)``; the
    server stops (connections closed, thread joined) when the block exits. ``http`` picks
    uvicorn's HTTP implementation (``auto`` prefers httptools).

    Raises:
        ConfigurationError: the server did not start within 10 s.
    """
    app = create_app(config)
    emulator: Emulator = app.state.emulator
    server = uvicorn.Server(_uvicorn_config(app, http))
    emulator.open_connections = lambda: len(server.server_state.connections)
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"iqm-emulator-{port}", daemon=True
        )
        thread.start()
        try:
            _wait_started(server, thread)
            yield f"http://127.0.0.1:{port}", emulator
        finally:
            server.should_exit = True
            thread.join(_STOP_TIMEOUT_S)


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    # uvicorn sets server.started from its own thread; poll it with short sleeps.
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise ConfigurationError("The emulator's server thread stopped during start-up.")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigurationError("The emulator did not start within 10 s.")
        time.sleep(0.005)


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, http: HttpImplementation = "auto"
) -> Iterator[str]:
    """Serve a fresh emulator on 127.0.0.1 in a background thread; yield its base URL.

    The same as :func:`running_emulator_with_state` without the emulator object.
    """
    with running_emulator_with_state(config, http=http) as (url, _):
        yield url


def serve(config: EmulatorConfig, *, host: str, port: int) -> None:
    """Serve the emulator in the foreground until interrupted (the CLI's job)."""
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, "auto", host=host, port=port))
    server.run()
