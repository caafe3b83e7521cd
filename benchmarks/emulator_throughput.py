"""How many requests per second the emulator serves on loopback: the client benchmarks' ceiling.

Measures status GETs/s, submits/s and full-result GETs/s with parallel instant jobs, in two
set-ups, each in this one invocation:

- ``subprocess``: ``python -m iqm_async.emulator`` in its own process (its own GIL), load
  from ``--client-processes`` processes, each with ``--concurrency`` kept-alive connections;
- ``thread``: ``running_emulator`` in a background thread of a load process, as the client
  test suites use it (the server shares that process's GIL with the client).

Run:  python benchmarks/emulator_throughput.py [--seconds 3] [--concurrency 32]
                                               [--client-processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time

import httpx
import psutil
from _emulator_process import emulator_process

from iqm_async.emulator import EmulatorConfig, running_emulator

BELL = {
    "circuits": [
        {
            "name": "bell",
            "instructions": [
                {"name": "prx", "qubits": ["q0"], "args": {"angle_t": 0.25, "phase_t": 0.25}},
                {"name": "prx", "qubits": ["q1"], "args": {"angle_t": 0.25, "phase_t": 0.25}},
                {"name": "cz", "qubits": ["q0", "q1"], "args": {}},
                {"name": "prx", "qubits": ["q1"], "args": {"angle_t": -0.25, "phase_t": 0.25}},
                {"name": "measure", "qubits": ["q0", "q1"], "args": {"key": "m"}},
            ],
        }
    ],
    "qubit_mapping": [
        {"logical_name": "q0", "physical_name": "QB1"},
        {"logical_name": "q1", "physical_name": "QB2"},
    ],
    "shots": 100,
}
KINDS = ("status", "submit", "result")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one HTTP/1.1 request on a kept-alive connection; return the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def _requests(kind: str, ids: list[str]) -> list[bytes]:
    """Raw HTTP/1.1 requests for ``kind``, cycled through by the workers."""
    if kind == "submit":
        body = json.dumps(BELL).encode()
        head = (
            "POST /jobs HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return [head.encode() + body]
    suffix = "/status" if kind == "status" else ""
    return [f"GET /jobs/{i}{suffix} HTTP/1.1\r\nHost: emulator\r\n\r\n".encode() for i in ids]


async def _load(url: str, kind: str, concurrency: int, seconds: float) -> tuple[int, int]:
    """Send ``kind`` requests on ``concurrency`` kept-alive connections for ``seconds``.

    The load generator is a minimal HTTP/1.1 client on asyncio streams: a general-purpose
    client (httpx) tops out near 500-700 requests/s per process here, far below the server.
    Returns ``(ok, errors)``.
    """
    async with httpx.AsyncClient(base_url=url) as client:
        ids = [(await client.post("/jobs", json=BELL)).json()["id"] for _ in range(20)]
        for job_id in ids:  # simulate once, so result GETs measure serving, not simulating
            await client.get(f"/jobs/{job_id}")
    host, port = url.removeprefix("http://").split(":")
    requests = _requests(kind, ids)
    ok = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal ok, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        i = offset
        try:
            while time.perf_counter() < deadline:
                status = await _exchange(reader, writer, requests[i % len(requests)])
                i += 1
                if status < 400:
                    ok += 1
                else:
                    errors += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return ok, errors


def _load_process(args: tuple[str, str, int, float]) -> tuple[int, int]:
    return asyncio.run(_load(*args))


def bench_subprocess(kind: str, seconds: float, concurrency: int, processes: int) -> str:
    options = ("--parallel", "--job-seconds", "0", "--seed", "1")
    with emulator_process(*options) as (url, server):
        proc = psutil.Process(server.pid)
        proc.cpu_percent(None)
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes) as pool:
            start = time.perf_counter()
            results = pool.map(_load_process, [(url, kind, concurrency, seconds)] * processes)
            elapsed = time.perf_counter() - start
        cpu = proc.cpu_percent(None)
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    # Each load process also spent time on its own setup (20 submits); the rate uses the
    # measured window, which dominates.
    rate = ok / seconds
    return (
        f"{kind:>7} | subprocess | {rate:9.0f} req/s | errors {errors} | "
        f"server CPU {cpu:5.0f} % over {elapsed:.1f} s | {processes}x{concurrency} in flight"
    )


def bench_thread(kind: str, seconds: float, concurrency: int) -> str:
    config = EmulatorConfig(seed=1, parallel=True, job_seconds=0.0)
    with running_emulator(config) as url:
        ok, errors = asyncio.run(_load(url, kind, concurrency, seconds))
    return (
        f"{kind:>7} | thread     | {ok / seconds:9.0f} req/s | errors {errors} | "
        f"server and client share one process | {concurrency} in flight"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (3)")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight per client (32)")
    parser.add_argument("--client-processes", type=int, default=2, help="load processes (2)")
    args = parser.parse_args()
    print(f"emulator throughput on loopback, {os.cpu_count()} CPUs, {sys.version.split()[0]}")
    print("   kind | set-up     |      rate       | details")
    for kind in KINDS:
        print(bench_subprocess(kind, args.seconds, args.concurrency, args.client_processes))
    for kind in KINDS:
        print(bench_thread(kind, args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
