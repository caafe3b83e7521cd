"""Requests per job with 200 jobs queued on one QPU: queue-position polling on and off.

On the IQM Server API a waiting job's status says its place in the queue. With
``PollPolicy(queue_position_polling=True)`` (the default) the poller learns how long one job
takes from positions moving up and polls a job far back after 0.9 of its expected wait
(``queued_wait_fraction``, at most ``max_queued_interval_s``); the head of the queue is still
polled every ``head_interval_s``. Off, every waiting job follows the plain backoff (up to 2 s
apart).

Both ways in one invocation, with the default cap of 50 polls/s and without a cap, against
one emulator process (``--job-seconds`` per job, one
FIFO QPU), each submitting ``--jobs`` jobs at once and waiting for all; counted at the
emulator: status polls and all requests per job, and each run's wall time (the last result
comes when the queue drains either way).

Run: ``python benchmarks/queue_position_polling.py [--jobs 200] [--job-seconds 0.25]``
(about 3 minutes).

Measured (2 cores, another test run beside it):

    poll cap   queue-position polling   status/job requests/job  polls/s   run s
    50         on (default)                   6.17         8.17     30.6    40.3
    50         off                            8.75        10.75     43.5    40.2
      cap 50: 1.42x fewer status polls
    inf        on (default)                   7.25         9.25     36.0    40.3
    inf        off                           18.90        20.90     94.2    40.1
      cap inf: 2.61x fewer status polls

With the default cap both ways are bounded by it (off runs at the cap's 45/s); of the 6.2
polls per job that remain, 2 are the head job's (every 0.1 s for 40 s) and 1 each job's first
poll, made before the job time is known.
"""

from __future__ import annotations

import argparse
import math
import time

import anyio
from _emulator_process import emulator_process, emulator_stats, reset_stats
from _shared import bit_circuit

from iqm_async import AsyncIQMClient
from iqm_async.policies import PollPolicy

STATUS_ROUTE = "GET /api/v1/jobs/{job_id}"


async def run(url: str, jobs: int, policy: PollPolicy) -> float:
    """Submit ``jobs`` jobs at once and wait for all of them; the wall time in seconds."""
    started = time.perf_counter()
    async with AsyncIQMClient(url, api="iqm-server", quantum_computer="garnet", poll=policy) as c:
        submitted = []

        async def submit(index: int) -> None:
            circuit = bit_circuit(index, prefix="queued")
            submitted.append(await c.submit(circuit, shots=10, qubit_mapping={"q0": "QB1"}))

        async with anyio.create_task_group() as tg:
            for index in range(jobs):
                tg.start_soon(submit, index)
        await c.gather(submitted, timeout=600)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--job-seconds", type=float, default=0.25)
    args = parser.parse_args()
    print(f"{args.jobs} jobs of {args.job_seconds} s on one FIFO QPU (emulator process)")
    header = f"{'poll cap':<10} {'queue-position polling':<24} {'status/job':>10}"
    print(f"{header} {'requests/job':>12} {'polls/s':>8} {'run s':>7}")
    with emulator_process("--job-seconds", str(args.job_seconds), "--seed", "1") as (url, _):
        for cap in (PollPolicy().max_polls_per_s, math.inf):
            figures = {}
            for on in (True, False):
                reset_stats(url)
                policy = PollPolicy(queue_position_polling=on, max_polls_per_s=cap)
                seconds = anyio.run(run, url, args.jobs, policy)
                by_route = emulator_stats(url)["requests_by_route"]
                polls = by_route.get(STATUS_ROUTE, 0)
                total = sum(by_route.values()) / args.jobs
                figures[on] = polls / args.jobs
                label = "on (default)" if on else "off"
                row = f"{cap:<10.0f} {label:<24} {polls / args.jobs:>10.2f} {total:>12.2f}"
                print(f"{row} {polls / seconds:>8.1f} {seconds:>7.1f}")
            print(f"  cap {cap:.0f}: {figures[False] / figures[True]:.2f}x fewer status polls")


if __name__ == "__main__":
    main()
