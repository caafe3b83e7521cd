"""Requests per job with 200 jobs queued on one QPU: queue-position polling on and off.

On the IQM Server API a waiting job's status says its place in the queue. With
``PollPolicy(queue_position_polling=True)`` (the default) the poller learns how long one job
takes from positions moving up and polls a job far back about half its expected wait apart
(at most ``max_queued_interval_s``); the head of the queue is still polled every
``head_interval_s``. Off, every waiting job follows the plain backoff (up to 2 s apart).

Both runs in one invocation, against one emulator process (``--job-seconds`` per job, one
FIFO QPU), each submitting ``--jobs`` jobs at once and waiting for all; counted at the
emulator: status polls and all requests per job, and each run's wall time (the last result
comes when the queue drains either way).

Run: ``python benchmarks/queue_position_polling.py [--jobs 200] [--job-seconds 0.1]``
(about 45 s).
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
    parser.add_argument("--job-seconds", type=float, default=0.1)
    args = parser.parse_args()
    print(f"{args.jobs} jobs of {args.job_seconds} s on one FIFO QPU (emulator process)")
    print(f"{'queue-position polling':<24} {'status/job':>10} {'requests/job':>12} {'run s':>7}")
    figures = {}
    with emulator_process("--job-seconds", str(args.job_seconds), "--seed", "1") as (url, _):
        for on in (True, False):
            reset_stats(url)
            seconds = anyio.run(run, url, args.jobs, PollPolicy(queue_position_polling=on))
            by_route = emulator_stats(url)["requests_by_route"]
            polls = by_route.get(STATUS_ROUTE, 0) / args.jobs
            total = sum(by_route.values()) / args.jobs
            figures[on] = polls
            label = "on (default)" if on else "off"
            print(f"{label:<24} {polls:>10.2f} {total:>12.2f} {seconds:>7.1f}")
    print(f"status polls per job: {figures[False] / figures[True]:.2f}x fewer with it on")


if __name__ == "__main__":
    main()
