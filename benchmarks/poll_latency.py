"""Server-ready -> caller latency of AsyncIQMClient's poller: 1,000 jobs on one FIFO QPU.

The emulator runs in its own process (``python -m iqm_async.emulator --job-seconds 2``, no
``--parallel``: one QPU, jobs executed one after another, one ending every 1.6 s; 0.4 s of
each job is compilation, which runs in parallel). One run per poll schedule, each against a
fresh emulator:

1. queue-aware (the default ``PollPolicy()``: the oldest waiting job polled every 0.1 s, due
   jobs served oldest first, at most 50 polls/s);
2. the schedule before it (``PollPolicy(head_jobs=0)``: each job on its own backoff, 50 ms
   growing to 2 s, due jobs served earliest-due first, same cap).

Each run submits ``--jobs`` jobs (concurrently, 8 connections), waits for all of them (one
task per job), observes the first ``--observe`` jobs that end after the waits began, then
aborts the rest. Measured:

- status polls at the server: ``GET /_emulator/stats`` sampled every 50 ms (that route is
  not counted); the busiest one-second window is the largest increase between two samples at
  most 1 s apart (a lower bound: a window between samples may hold up to one sampling
  interval more, also printed);
- server-ready -> caller: the wall time when ``await job.result()`` returned minus the
  result's ``metadata.timestamps["job_end"]`` (the emulator's wall clock, ms resolution,
  same host);
- the HTTP requests of a single 2 s job alone, counted at the server.

Runs for about 90 s: 34 s (queue-aware), 46 s (old schedule: results come ~20 s late),
8 s (single jobs).

Usage: python benchmarks/poll_latency.py [--jobs 1000] [--observe 20] [--job-seconds 2]
       [--skip-old]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import anyio
import httpx
from _emulator_process import emulator_process

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.jobs import Job
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy

STATUS_ROUTE = "GET /jobs/{job_id}/status"
SAMPLE_S = 0.05


@dataclass
class Run:
    name: str
    lags_s: list[float]  # sorted server-ready -> caller, seconds
    busiest_low: int  # polls in the busiest sampled window of <= 1 s
    busiest_high: int  # ... of <= 1 s + one sampling interval
    polls_per_s: float
    out_of_order: int  # observed jobs that ended before an older job of the same client
    seconds: float

    def percentile(self, fraction: float) -> float:
        """Nearest-rank percentile of the lags, seconds."""
        rank = math.ceil(round(fraction * len(self.lags_s), 9))
        return self.lags_s[max(1, rank) - 1]


def circuit(index: int) -> Circuit:
    return Circuit(
        name=f"latency-{index}",  # distinct bodies: the emulator flags identical ones
        instructions=(
            Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0}),
            Instruction(name="measure", qubits=("QB1",), args={"key": "m"}),
        ),
    )


def wall_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def busiest_window(samples: list[tuple[float, int]], span_s: float) -> int:
    """The largest count increase between two samples at most ``span_s`` apart."""
    best = start = 0
    for end in range(len(samples)):
        while samples[end][0] - samples[start][0] > span_s:
            start += 1
        best = max(best, samples[end][1] - samples[start][1])
    return best


async def sample_polls(url: str, samples: list[tuple[float, int]]) -> None:
    async with httpx.AsyncClient(base_url=url) as stats:
        while True:
            reply = (await stats.get("/_emulator/stats")).json()
            samples.append((time.monotonic(), reply["requests_by_route"].get(STATUS_ROUTE, 0)))
            await anyio.sleep(SAMPLE_S)


async def queue_run(url: str, name: str, policy: PollPolicy, jobs: int, observe: int) -> Run:
    started = time.monotonic()
    lags: dict[Job, float] = {}
    ended: dict[Job, float] = {}  # server wall time of job_end
    samples: list[tuple[float, int]] = []
    enough = anyio.Event()
    sampling = anyio.CancelScope()

    async def sample() -> None:
        with sampling:
            await sample_polls(url, samples)

    async with AsyncIQMClient(url, api="cocos", poll=policy) as client:
        handles: list[Job] = []

        async def submit(index: int) -> None:
            handles.append(await client.submit(circuit(index), shots=10))

        async with anyio.create_task_group() as tg:
            for index in range(jobs):
                tg.start_soon(submit, index)
        waits_began = time.time()

        async def wait(job: Job) -> None:
            result = await job.result()
            held_at = time.time()
            stamps = result.metadata.timestamps or {}
            ended_at = wall_seconds(stamps["job_end"])
            if ended_at >= waits_began:  # ended before anyone waited: not a poll delay
                lags[job] = held_at - ended_at
                ended[job] = ended_at
                if len(lags) >= observe:
                    enough.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            await anyio.sleep(2 * SAMPLE_S)
            polls_before = samples[-1][1]
            waiting_from = time.monotonic()
            async with anyio.create_task_group() as waits:
                for job in handles:
                    waits.start_soon(wait, job)
                await enough.wait()
                waits.cancel_scope.cancel()
            waited_s = time.monotonic() - waiting_from
            await anyio.sleep(2 * SAMPLE_S)
            sampling.cancel()
        polls_waiting = samples[-1][1] - polls_before

        async def abort(job: Job) -> None:
            with contextlib.suppress(errors.IQMError):  # it ended meanwhile
                await job.abort()

        async with anyio.create_task_group() as tg:
            for job in handles:
                if not job.done:
                    tg.start_soon(abort, job)
    # Jobs that ended before an older job of this client: the server's queue order differs
    # from the client's age order (concurrent submits can reach the server in any order).
    by_age = sorted(ended, key=lambda job: job.seq)
    out_of_order = sum(
        1 for i, job in enumerate(by_age) if any(ended[older] > ended[job] for older in by_age[:i])
    )
    return Run(
        name=name,
        lags_s=sorted(lags.values()),
        busiest_low=busiest_window(samples, 1.0),
        busiest_high=busiest_window(samples, 1.0 + SAMPLE_S),
        polls_per_s=polls_waiting / waited_s,
        out_of_order=out_of_order,
        seconds=time.monotonic() - started,
    )


async def lone_job_requests(url: str, policy: PollPolicy) -> dict[str, int]:
    """Requests by route at a fresh emulator for one job submitted and waited for."""
    async with AsyncIQMClient(url, api="cocos", poll=policy) as client:
        job = await client.submit(circuit(10**6), shots=10)
        await job.result(timeout=60)
    async with httpx.AsyncClient(base_url=url) as stats:
        reply = (await stats.get("/_emulator/stats")).json()
    routes: dict[str, int] = reply["requests_by_route"]
    return {route: n for route, n in routes.items() if route != "GET /health"}


@contextmanager
def emulator(job_seconds: float) -> Iterator[str]:
    """A fresh emulator process (an empty queue, FIFO: no --parallel); yields its URL."""
    with emulator_process("--seed", "1", "--job-seconds", str(job_seconds)) as (url, _):
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--observe", type=int, default=20, help="completions to observe")
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--skip-old", action="store_true", help="skip the head_jobs=0 run")
    args = parser.parse_args()
    os.environ.pop("IQM_TOKEN", None)
    began = time.monotonic()
    schedules = [("queue-aware (default)", PollPolicy())]
    if not args.skip_old:
        schedules.append(("old: head_jobs=0", PollPolicy(head_jobs=0)))
    print(
        f"{args.jobs} jobs of {args.job_seconds:g} s on one FIFO QPU (emulator process), "
        f"cap {PollPolicy().max_polls_per_s:.0f} polls/s, first {args.observe} completions "
        "after the waits began"
    )
    header = (
        f"{'schedule':<24} {'busiest 1 s':>12} {'polls/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max ms':>8} {'out of order':>13} {'run s':>6}"
    )
    print(header)
    for name, policy in schedules:
        with emulator(args.job_seconds) as url:
            run = anyio.run(queue_run, url, name, policy, args.jobs, args.observe)
        busiest = f"{run.busiest_low}-{run.busiest_high}"
        print(
            f"{run.name:<24} {busiest:>12} {run.polls_per_s:>8.1f} "
            f"{run.percentile(0.5) * 1000:>8.0f} {run.percentile(0.95) * 1000:>8.0f} "
            f"{run.lags_s[-1] * 1000:>8.0f} {run.out_of_order:>13} {run.seconds:>6.1f}"
        )
    print("busiest 1 s: status polls counted at the server, lower-upper bound from 50 ms samples")
    for name, policy in schedules:
        with emulator(args.job_seconds) as url:
            routes = anyio.run(lone_job_requests, url, policy)
        total = sum(routes.values())
        print(f"one {args.job_seconds:g} s job alone, {name}: {total} requests {routes}")
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
