"""Jobs per second and HTTP requests per job: iqm_async vs the official iqm-client 22.16.

Everything runs against one emulator process (``--parallel --job-seconds 0``: instant jobs,
so the figures measure the clients, not a queue) started by this script, in one invocation:

1. iqm-client, sequential: submit_circuits + wait_for_results, one job after the other.
2. iqm-client, 32 threads: the same loop in a pool of 32 threads (one IQMClient per thread).
3. iqm_async, sequential: submit + result, one job after the other.
4. iqm_async, concurrent: every job submitted at once, then ``gather``.

iqm-client runs with its defaults, as users get it: it sleeps
``IQM_CLIENT_SECONDS_BETWEEN_CALLS`` (1 s) between polls and fetches the calibration before
every submit. Requests are counted at the emulator (``/_emulator/stats``).

Both are run twice: against instant jobs, and against jobs of ``--job-seconds`` (0.5 s), where
the poll schedule matters.

Usage: python benchmarks/client_throughput.py [--jobs 2000] [--sequential-jobs 200]
       [--official-jobs 8] [--official-pool-jobs 128] [--shots 100] [--job-seconds 0.5]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import anyio
from _emulator_process import emulator_process, emulator_stats, reset_stats

from iqm_async.client import AsyncIQMClient
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy


@dataclass
class Figures:
    name: str
    jobs: int
    seconds: float
    requests: int

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds

    @property
    def requests_per_job(self) -> float:
        return self.requests / self.jobs


def requests_seen(url: str) -> int:
    return int(emulator_stats(url)["requests_total"])


# --- the official client ------------------------------------------------------------------------


def official_client(url: str) -> Any:
    from iqm.iqm_client import IQMClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its V1 deprecation warning
        return IQMClient(url)


def official_circuit(index: int) -> Any:
    from iqm.iqm_client import Circuit as OfficialCircuit
    from iqm.iqm_client import Instruction as OfficialInstruction

    return OfficialCircuit(
        name=f"official-{index}",
        instructions=(
            OfficialInstruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0}),
            OfficialInstruction(name="measure", qubits=("QB1",), args={"key": "m"}),
        ),
    )


def official_run(client: Any, index: int, shots: int) -> None:
    job_id = client.submit_circuits([official_circuit(index)], shots=shots)
    result = client.wait_for_results(job_id, timeout_secs=120)
    assert result.measurements is not None


def run_official_sequential(url: str, jobs: int, shots: int) -> Figures:
    client = official_client(url)
    reset_stats(url)
    started = time.perf_counter()
    for index in range(jobs):
        official_run(client, index, shots)
    seconds = time.perf_counter() - started
    return Figures("iqm-client 22.16, sequential", jobs, seconds, requests_seen(url))


def run_official_pool(url: str, jobs: int, shots: int, threads: int = 32) -> Figures:
    clients = [official_client(url) for _ in range(threads)]
    reset_stats(url)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        futures = [
            pool.submit(official_run, clients[i % threads], 100_000 + i, shots) for i in range(jobs)
        ]
        for future in futures:
            future.result()
    seconds = time.perf_counter() - started
    return Figures(f"iqm-client 22.16, {threads} threads", jobs, seconds, requests_seen(url))


# --- iqm_async ----------------------------------------------------------------------------------


def our_circuit(index: int) -> Circuit:
    return Circuit(
        name=f"async-{index}",
        instructions=(
            Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0}),
            Instruction(name="measure", qubits=("QB1",), args={"key": "m"}),
        ),
    )


async def run_ours_sequential(url: str, jobs: int, shots: int) -> Figures:
    reset_stats(url)
    async with AsyncIQMClient(url) as client:
        started = time.perf_counter()
        for index in range(jobs):
            job = await client.submit(our_circuit(index), shots=shots)
            await job.result(timeout=120)
        seconds = time.perf_counter() - started
    return Figures("iqm_async, sequential", jobs, seconds, requests_seen(url))


async def run_ours_concurrent(url: str, jobs: int, shots: int, max_polls_per_s: float) -> Figures:
    reset_stats(url)
    poll = PollPolicy(max_polls_per_s=max_polls_per_s)
    async with AsyncIQMClient(url, poll=poll) as client:
        started = time.perf_counter()
        handles: list[Any] = [None] * jobs

        async def submit(index: int) -> None:
            handles[index] = await client.submit(our_circuit(200_000 + index), shots=shots)

        async with anyio.create_task_group() as tg:
            for index in range(jobs):
                tg.start_soon(submit, index)
        results = await client.gather(handles, timeout=600)
        seconds = time.perf_counter() - started
    assert all(r.measurements for r in results)
    cap = "no poll cap" if math.isinf(max_polls_per_s) else f"cap {max_polls_per_s:.0f} polls/s"
    return Figures(f"iqm_async, concurrent ({cap})", jobs, seconds, requests_seen(url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs for iqm_async concurrent")
    parser.add_argument("--sequential-jobs", type=int, default=20, help="iqm_async sequential")
    parser.add_argument("--official-jobs", type=int, default=8, help="iqm-client sequential")
    parser.add_argument("--official-pool-jobs", type=int, default=128, help="iqm-client pool")
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument(
        "--job-seconds", type=float, default=0.5, help="job time of the second emulator"
    )
    args = parser.parse_args()
    os.environ.pop("IQM_TOKEN", None)
    for job_seconds in (0.0, args.job_seconds):
        options = ("--seed", "1", "--parallel", "--job-seconds", str(job_seconds))
        with emulator_process(*options) as (url, _):
            figures = [
                run_official_sequential(url, args.official_jobs, args.shots),
                run_official_pool(url, args.official_pool_jobs, args.shots),
                anyio.run(run_ours_sequential, url, args.sequential_jobs, args.shots),
                anyio.run(run_ours_concurrent, url, args.jobs, args.shots, 50.0),
                anyio.run(run_ours_concurrent, url, args.jobs, args.shots, math.inf),
            ]
        report(figures, f"parallel jobs of {job_seconds:g} s, {args.shots} shots/job")


def report(figures: list[Figures], setting: str) -> None:
    print(f"\nemulator (separate process): {setting}")
    print(f"{'client':<44} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} {'requests/job':>13}")
    for f in figures:
        print(
            f"{f.name:<44} {f.jobs:>6} {f.seconds:>8.2f} {f.jobs_per_s:>8.1f} "
            f"{f.requests_per_job:>13.2f}"
        )
    official_seq, official_pool, ours_seq, ours_capped, ours_free = figures
    print("ratios, iqm_async / iqm-client:")
    print(f"  sequential, jobs/s: {ours_seq.jobs_per_s / official_seq.jobs_per_s:.2f}x")
    for ours in (ours_capped, ours_free):
        print(
            f"  {ours.name.split(', ')[1]} vs 32 threads, jobs/s: "
            f"{ours.jobs_per_s / official_pool.jobs_per_s:.2f}x"
        )
    sequential = ours_seq.requests_per_job / official_seq.requests_per_job
    concurrent = ours_free.requests_per_job / official_pool.requests_per_job
    print(f"  requests/job: sequential {sequential:.2f}x, concurrent vs threads {concurrent:.2f}x")


if __name__ == "__main__":
    main()
