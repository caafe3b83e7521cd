"""The emulator in a child process on a free loopback port, for the benchmark scripts.

Each benchmark measures against ``python -m iqm_async.emulator`` running in its own process,
so the emulator's work does not share the client's interpreter. Import it from a script in
this folder (``python benchmarks/x.py`` puts the folder on ``sys.path``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT_S = 30.0
_UNSIMULATED = Path(__file__).with_name("_emulator_unsimulated.py")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator_process(
    *options: str, any_answer: bool = False, simulate: bool = True
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``python -m iqm_async.emulator --port P *options``; yield ``(url, process)`` once
    ``/health`` answers 200 (any answer with ``any_answer``, for an emulator that faults
    every route); terminate it on exit. With ``simulate=False`` the emulator returns random
    bits instead of simulating (``_emulator_unsimulated.py``), for circuits too big to
    simulate quickly.

    Raises:
        SystemExit: it did not answer within :data:`START_TIMEOUT_S`.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launcher = ["-m", "iqm_async.emulator"] if simulate else [str(_UNSIMULATED)]
    command = [sys.executable, *launcher, "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, any_answer)
        yield url, process
    finally:
        process.terminate()
        process.wait(10)


def _wait_until_up(url: str, any_answer: bool) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            status = httpx.get(f"{url}/health", timeout=1).status_code
            if any_answer or status == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the emulator did not start within {START_TIMEOUT_S:.0f} s")


def reset_stats(url: str) -> None:
    """Zero the emulator's counters (``POST /_emulator/reset-stats``)."""
    httpx.post(f"{url}/_emulator/reset-stats").raise_for_status()


def emulator_stats(url: str) -> dict[str, Any]:
    """The emulator's counters (``GET /_emulator/stats``; that route is never counted)."""
    stats: dict[str, Any] = httpx.get(f"{url}/_emulator/stats").json()
    return stats
