"""The soak: the fault drill's long form, 20,000+ jobs through one AsyncIQMClient.

The emulator runs in its own process (so the RSS figures are the client's alone), with the
drill's faults: 20 % of requests answered 500/502/503 (token endpoint included), 5 % 429
with a 0.05 s ``Retry-After``, 2 % of connections dropped after the route ran, 1 ms latency
with 1 % spikes of ~100 ms, 2 s tokens from the emulator's auth endpoint, 5 % of jobs
failing. Jobs are instant, so the figures measure the client under fire, not a queue.

``--in-flight`` jobs run at once (a sliding window, as a long-running service would), each
submitted, waited for and checked (its one qubit must read ``index % 2`` on every shot),
then dropped: nothing per job is kept but counters, so a per-job leak shows as RSS growth.

Printed: jobs, faults injected (per kind and on ``POST /jobs``), outcomes, duplicate
submissions, the ledger of jobs the client never heard of (must equal the dropped ``201``
answers on ``POST /jobs``), RSS (current and peak) at 1k, 10k and 20k jobs with the growth
in MB per 1k jobs between 1k and the end, and jobs per second.

Usage: python benchmarks/soak.py [--jobs 20000] [--in-flight 256] [--seed 7] [--shots 4]
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import psutil
from _emulator_process import emulator_process, emulator_stats, reset_stats
from _shared import bit_circuit

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.policies import PollPolicy, RetryPolicy
from iqm_async.results import JobPhase

USERNAME = "soak-user"
PASSWORD = "soak-password-0815"
SUBMIT_ROUTE = "POST /jobs"
MILESTONES = (1_000, 10_000, 20_000)

EMULATOR_FAULTS = [
    "--parallel",
    "--job-seconds=0",
    "--require-auth",
    "--token-seconds=2",
    f"--username={USERNAME}",
    f"--password={PASSWORD}",
    "--fail-rate=0.2",
    "--throttle-rate=0.05",
    "--retry-after-s=0.05",
    "--drop-rate=0.02",
    "--latency-ms=1",
    "--latency-spike-rate=0.01",
    "--latency-spike-ms=100",
    "--job-fail-rate=0.05",
]


@dataclass
class Tally:
    """Counters only: nothing per job outlives the job."""

    outcomes: Counter[str] = field(default_factory=Counter)
    known_ids: int = 0
    uncertain: int = 0
    wrong_results: int = 0
    done: int = 0
    memory: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    """milestone -> (seconds since start, current RSS MB, peak RSS MB)."""


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size of this process in MB (peak: ru_maxrss, KiB)."""
    current = psutil.Process().memory_info().rss / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


async def run_one(client: AsyncIQMClient, index: int, shots: int, tally: Tally) -> None:
    circuit = bit_circuit(index, prefix="soak")
    try:
        job = await client.submit(circuit, shots=shots, qubit_mapping={"q0": f"QB{index % 20 + 1}"})
    except errors.SubmissionUncertainError:
        tally.uncertain += 1
        tally.outcomes["submit: SubmissionUncertainError"] += 1
        return
    except errors.IQMError as exc:
        tally.outcomes[f"submit: {type(exc).__name__}"] += 1
        return
    tally.known_ids += 1
    for attempt in range(3):  # a wait ended by a fault is waited for again: no handle lost
        try:
            result = await job.result(timeout=120)
        except (errors.JobFailedError, errors.JobAbortedError) as exc:
            tally.outcomes[type(exc).__name__] += 1
            return
        except errors.IQMError as exc:
            tally.outcomes[f"wait fault: {type(exc).__name__}"] += 1
            if attempt == 2:
                tally.outcomes["lost after 3 waits"] += 1
                return
            continue
        expected = [{"m": [[index % 2]] * shots}]
        if result.status.phase is not JobPhase.COMPLETED or result.measurements != expected:
            tally.wrong_results += 1
        tally.outcomes["result"] += 1
        return


async def soak(url: str, jobs: int, in_flight: int, shots: int, tally: Tally) -> float:
    next_index = 0
    started = time.perf_counter()

    async with AsyncIQMClient(
        url,
        api="cocos",
        auth_server_url=url,
        username=USERNAME,
        password=PASSWORD,
        retry=RetryPolicy(initial_backoff_s=0.02, max_backoff_s=0.2),
        poll=PollPolicy(max_polls_per_s=2000.0),
        max_connections=16,
    ) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < jobs:
                index = next_index
                next_index += 1
                await run_one(client, index, shots, tally)
                tally.done += 1
                if tally.done in MILESTONES or tally.done == jobs:
                    gc.collect()
                    tally.memory[tally.done] = (time.perf_counter() - started, *rss_mb())
                    seconds, current, peak = tally.memory[tally.done]
                    print(
                        f"  {tally.done:>6} jobs  {seconds:7.1f} s  RSS {current:6.1f} MB  "
                        f"peak {peak:6.1f} MB",
                        flush=True,
                    )

        async with anyio.create_task_group() as tg:
            for _ in range(in_flight):
                tg.start_soon(worker)
    return time.perf_counter() - started


def report(jobs: int, seconds: float, tally: Tally, stats: dict[str, Any]) -> None:
    submit_faults = stats["faults_by_route"].get(SUBMIT_ROUTE, {})
    unheard = stats["jobs_created"] - tally.known_ids
    may_be_uncertain = submit_faults.get("500", 0) + submit_faults.get("502", 0)
    may_be_uncertain += sum(n for kind, n in submit_faults.items() if kind.startswith("drop"))
    print(f"\njobs: {jobs} in {seconds:.1f} s = {jobs / seconds:.0f} jobs/s")
    print(
        f"server requests: {stats['requests_total']}; faults injected: {stats['faults_injected']}"
    )
    print(f"faults on POST /jobs: {submit_faults}")
    print(f"token requests: {stats['token_requests']}")
    print(f"outcomes: {dict(sorted(tally.outcomes.items()))}")
    print(f"wrong results: {tally.wrong_results}")
    print(f"duplicate submissions: {stats['duplicate_submissions']}")
    print(
        f"jobs created {stats['jobs_created']}, ids known to the client {tally.known_ids}: "
        f"{unheard} unheard == {submit_faults.get('drop 201', 0)} dropped 201s on POST /jobs; "
        f"{tally.uncertain} SubmissionUncertainErrors == {may_be_uncertain} 500/502/dropped "
        "submits"
    )
    marks = sorted(tally.memory)
    for mark in marks:
        at, current, peak = tally.memory[mark]
        print(f"RSS at {mark:>6} jobs: {current:6.1f} MB (peak {peak:6.1f} MB) after {at:.1f} s")
    if len(marks) >= 2:
        first, last = marks[0], marks[-1]
        per_1k_current = (tally.memory[last][1] - tally.memory[first][1]) / (last - first) * 1000
        per_1k_peak = (tally.memory[last][2] - tally.memory[first][2]) / (last - first) * 1000
        print(
            f"growth from {first} to {last} jobs: {per_1k_current:+.3f} MB per 1k jobs "
            f"(current RSS), {per_1k_peak:+.3f} MB per 1k jobs (peak RSS)"
        )
    ok = (
        stats["duplicate_submissions"] == 0
        and tally.wrong_results == 0
        and unheard == submit_faults.get("drop 201", 0)
        and tally.uncertain == may_be_uncertain
        and "lost after 3 waits" not in tally.outcomes
    )
    print("verdict:", "OK" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=256, help="jobs running at once")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shots", type=int, default=4)
    args = parser.parse_args()
    options = (f"--seed={args.seed}", *EMULATOR_FAULTS)
    # /health is faulted like every route: any answer means the server is up.
    with emulator_process(*options, any_answer=True) as (url, process):
        reset_stats(url)
        tally = Tally()
        print(f"soak: {args.jobs} jobs, {args.in_flight} in flight, emulator pid {process.pid}")
        seconds = anyio.run(soak, url, args.jobs, args.in_flight, args.shots, tally)
        stats = emulator_stats(url)
    report(args.jobs, seconds, tally, stats)


if __name__ == "__main__":
    main()
