"""Quickstart: a 200-point parameter sweep, compiled once and run concurrently.

Runs against the IQM server in ``IQM_SERVER_URL`` (credentials from ``IQM_TOKEN``,
``IQM_TOKENS_FILE`` or ``IQM_AUTH_SERVER``/``IQM_AUTH_USERNAME``/``IQM_AUTH_PASSWORD``; the
quantum computer from ``IQM_QUANTUM_COMPUTER`` on an IQM Server such as IQM Resonance), or,
when that is not set, against a local emulator with one simulated QPU. The client asks the
server which API it speaks: the IQM Server API v1 (the emulator's too) or the V1 jobs API.
"""

from __future__ import annotations

import math
import time

import anyio
from pytket.circuit import Circuit
from sympy import Symbol
from tqdm import tqdm

from iqm_async import AsyncIQMClient
from iqm_async.backend import AsyncIQMBackend

N_POINTS = 200
SHOTS = 1000


THETA = Symbol("theta")


def ansatz() -> Circuit:
    """Ry(theta) on one qubit entangled with a second: P(11) = sin^2(theta/2)."""
    return Circuit(2, 2, name="ry_cx").Ry(THETA, 0).CX(0, 1).measure_all()


def points() -> list[float]:
    """theta in half-turns, 0..2 (0..2 pi)."""
    return [2 * i / (N_POINTS - 1) for i in range(N_POINTS)]


async def run(url: str) -> None:
    started = time.perf_counter()
    # The client asks the server which API it speaks (IQM Server API or V1).
    async with AsyncIQMClient(url) as client, AsyncIQMBackend(client) as backend:
        # Compiled once, symbolically, in a worker process: the event loop stays free.
        (compiled,) = await backend.get_compiled_circuits([ansatz()], optimisation_level=1)
        compiled_at = time.perf_counter()
        # One circuit per point, each translated from the compiled template (no pytket pass
        # per point); circuits that measure the same qubits share a job (up to 100 per job).
        handles = await backend.process_circuits(
            compiled, n_shots=SHOTS, symbol_bindings=[{THETA: theta} for theta in points()]
        )
        point = {handle: i for i, handle in enumerate(handles)}
        p11 = [0.0] * N_POINTS
        with tqdm(total=N_POINTS, unit="circuit", desc="running") as bar:
            async for handle, result in backend.as_completed(handles):
                p11[point[handle]] = result.get_counts().get((1, 1), 0) / SHOTS
                bar.update(1)
        requests = client.request_count
        jobs = len({handle[0] for handle in handles})
    finished = time.perf_counter()

    print("\nP(11) along the sweep (expected sin^2(theta/2)):")
    for i in range(0, N_POINTS, N_POINTS // 10):
        theta = math.pi * 2 * i / (N_POINTS - 1)
        expected = math.sin(theta / 2) ** 2
        bar = "#" * round(40 * p11[i])
        print(f"  theta={theta:5.2f}  P(11)={p11[i]:.3f}  expected={expected:.3f}  {bar}")
    print(
        f"\n{N_POINTS} points x {SHOTS} shots in {jobs} jobs: compiled once in "
        f"{compiled_at - started:.1f} s, run in {finished - compiled_at:.1f} s, "
        f"{requests} HTTP requests ({requests / N_POINTS:.2f} per circuit)."
    )


def main() -> None:
    from _server import server_url

    with server_url(seed=7) as url:
        anyio.run(run, url)


if __name__ == "__main__":
    main()
