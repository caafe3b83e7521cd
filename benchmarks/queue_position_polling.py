"""Requests per job with 200 jobs queued on one QPU: queue-position polling on and off.

On the IQM Server API a waiting job's status says its place in the queue. With
``PollPolicy(queue_position_polling=True)`` (the default) the poller learns how long one job
takes from positions moving up and polls a job far back after 0.9 of its expected wait
(``queued_wait_fraction``, at most ``max_queued_interval_s``); the head of the queue is still
polled every ``head_interval_s``. Off, every waiting job follows the plain backoff (up to 2 s
apart).

Both ways in one invocation, against one emulator process (``--job-seconds`` per job, one
FIFO QPU), each submitting ``--jobs`` jobs at once and waiting for all, at each poll cap of
``--caps`` (the default cap of 50 polls/s; add ``inf`` for none). Counted at the emulator:
status polls and all requests per job, and each run's wall time (the last result comes when
the queue drains either way).

Run: ``python benchmarks/queue_position_polling.py [--jobs 200] [--job-seconds 1.0]
[--caps 50,inf]`` (about 5.5 minutes at one cap; 1 s jobs, 160 s per run).

Measured (2 cores; 1 s jobs, ``--caps 50,inf``):

    poll cap   queue-position polling   status/job requests/job  polls/s   run s
    50         on (default)                  14.46        16.46     18.0   160.4
    50         off                           31.40        33.40     39.2   160.4
      cap 50: 2.17x fewer status polls
    inf        on (default)                  17.38        19.38     21.7   160.4
    inf        off                           54.91        56.91     68.5   160.3
      cap inf: 3.16x fewer status polls

With 0.25 s jobs (``--job-seconds 0.25``): 1.42x fewer at cap 50 (6.17 vs 8.75 polls per
job) and 2.61x without a cap. Short jobs leave less to save: both ways then run at the cap,
and of what remains most is the head job's poll every 0.1 s (about 2 per job) and each job's
first poll, made before the job time is known.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--job-seconds", type=float, default=1.0)
    parser.add_argument(
        "--caps",
        default="50",
        help="poll caps to run, comma-separated, 'inf' for none (default: 50, the default)",
    )
    args = parser.parse_args()
    print(f"{args.jobs} jobs of {args.job_seconds} s on one FIFO QPU (emulator process)")
    header = f"{'poll cap':<10} {'queue-position polling':<24} {'status/job':>10}"
    print(f"{header} {'requests/job':>12} {'polls/s':>8} {'run s':>7}")
    with emulator_process("--job-seconds", str(args.job_seconds), "--seed", "1") as (url, _):
        for cap in (float(c) for c in args.caps.split(",")):
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
