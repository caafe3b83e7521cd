"""Jobs per second and HTTP requests per job: iqm_async vs the official iqm-client, on both
APIs: iqm-client 22.16 on the V1 ("CoCoS") jobs API, iqm-client 36.0 on the IQM Server API v1.

Everything runs against one emulator process (``--parallel``; every job runs at once, so the
figures measure the clients, not a queue) started by this script, in one invocation. Per API:

1. iqm-client, sequential: submit, wait, read the measurements, one job after the other.
2. iqm-client, 32 threads: the same loop in a pool of 32 threads (one client per thread).
3. iqm_async, sequential: submit + result, one job after the other.
4. iqm_async, concurrent: every job submitted at once, then ``gather`` (polls capped at 50/s,
   and with no cap).

iqm-client 22.16 runs in this process (``IQMClient(url)``, ``submit_circuits`` +
``wait_for_results``). iqm-client 36 cannot share this environment (pytket-iqm pins 22): it
runs ``benchmarks/_iqm36_runner.py`` in a subprocess with the Python of the cached side
environment of ``tests/side_env.py`` (built on first use, about a minute, needs the package
index): ``IQMClient.from_url(url, quantum_computer="garnet")``, ``submit_circuits`` with a
qubit mapping, ``tracker.wait_for_completion()``, ``tracker.result()``. Both run with their
defaults, as users get them: 22 sleeps ``IQM_CLIENT_SECONDS_BETWEEN_CALLS`` (1 s) between
polls and fetches the calibration before every submit; 36 polls every 1 s
(``polling_interval``) and fetches the dynamic architecture before every submit. Clients are
built before the clock starts. Requests are counted at the emulator (``/_emulator/stats``).

Everything is run twice: against instant jobs, and against jobs of ``--job-seconds`` (0.5 s),
where the poll schedule matters. With the defaults a run takes about 2.5 minutes, most of it
in the capped rows (500 jobs at 50 polls/s take about 12 s each).

Usage: python benchmarks/client_throughput.py [--jobs 2000] [--capped-jobs 500]
       [--sequential-jobs 20] [--official-jobs 8] [--official-pool-jobs 128] [--shots 100]
       [--job-seconds 0.5]

Measured (defaults, 2026-11-26, 2-CPU Linux container, Python 3.11; the instant-job rows
vary by about 30 % between runs, the 0.5 s rows by a few %)::

    emulator (separate process): parallel jobs of 0 s, 100 shots/job
    V1 jobs API: iqm_async vs iqm-client 22.16
      client                                             jobs  seconds   jobs/s  requests/job
      iqm-client 22.16, sequential                          8     0.09     94.1          4.00
      iqm-client 22.16, 32 threads                        128     0.79    161.1          4.00
      iqm_async V1, sequential                             20     1.20     16.7          3.00
      iqm_async V1, concurrent (cap 50 polls/s)           500    11.77     42.5          3.00
      iqm_async V1, concurrent (no poll cap)             2000    10.31    193.9          3.00
      ratios, iqm_async / iqm-client:  jobs/s   requests/job
        sequential vs sequential               0.18x       0.75x
        concurrent (cap 50/s) vs 32 threads    0.26x       0.75x
        concurrent (no cap) vs 32 threads      1.20x       0.75x
    IQM Server API v1: iqm_async vs iqm-client 36.0
      client                                             jobs  seconds   jobs/s  requests/job
      iqm-client 36.0, sequential                           8     0.06    136.1          3.00
      iqm-client 36.0, 32 threads                         128     0.60    212.4          3.00
      iqm_async IQM Server, sequential                     20     0.06    352.9          2.00
      iqm_async IQM Server, concurrent (cap 50 polls/s)    500     1.52    328.6          2.00
      iqm_async IQM Server, concurrent (no poll cap)     2000     5.73    348.9          2.00
      ratios, iqm_async / iqm-client:  jobs/s   requests/job
        sequential vs sequential               2.59x       0.67x
        concurrent (cap 50/s) vs 32 threads    1.55x       0.67x
        concurrent (no cap) vs 32 threads      1.64x       0.67x

    emulator (separate process): parallel jobs of 0.5 s, 100 shots/job
    V1 jobs API: iqm_async vs iqm-client 22.16
      client                                             jobs  seconds   jobs/s  requests/job
      iqm-client 22.16, sequential                          8     8.11      1.0          5.00
      iqm-client 22.16, 32 threads                        128     4.78     26.8          5.00
      iqm_async V1, sequential                             20    10.84      1.8          8.00
      iqm_async V1, concurrent (cap 50 polls/s)           500    11.69     42.8          3.01
      iqm_async V1, concurrent (no poll cap)             2000     8.98    222.7          3.00
      ratios, iqm_async / iqm-client:  jobs/s   requests/job
        sequential vs sequential               1.87x       1.60x
        concurrent (cap 50/s) vs 32 threads    1.60x       0.60x
        concurrent (no cap) vs 32 threads      8.31x       0.60x
    IQM Server API v1: iqm_async vs iqm-client 36.0
      client                                             jobs  seconds   jobs/s  requests/job
      iqm-client 36.0, sequential                           8     8.10      1.0          5.00
      iqm-client 36.0, 32 threads                         128     4.69     27.3          5.00
      iqm_async IQM Server, sequential                     20    10.83      1.8          8.00
      iqm_async IQM Server, concurrent (cap 50 polls/s)    500    11.61     43.1          3.00
      iqm_async IQM Server, concurrent (no poll cap)     2000     8.16    245.1          3.00
      ratios, iqm_async / iqm-client:  jobs/s   requests/job
        sequential vs sequential               1.87x       1.60x
        concurrent (cap 50/s) vs 32 threads    1.58x       0.60x
        concurrent (no cap) vs 32 threads      8.97x       0.60x


In short: with 0.5 s jobs, alike on both APIs, iqm_async is about 1.9x faster
sequentially (its backoff notices the end sooner than a fixed 1 s poll, at 8 requests per
job against 5) and 8.3-9.0x faster concurrently than 32 threads, with 0.6x the requests per
job. With instant jobs on the IQM Server API the submit reply says the job has ended, so
iqm_async fetches the result at once, outside the poll cap (2 requests per job): 2.6x
iqm-client 36's sequential speed and 1.6x its 32 threads, with 0.67x the requests. On V1 an
instant job still costs a status poll: sequentially iqm_async is 5x slower there (its first
poll waits ``PollPolicy.initial_interval_s``, 50 ms), and capped rows are bounded by the cap
(50 polls/s, about 40 jobs/s). Requests per instant job: iqm-client 22 makes 4 (a
calibration fetch before every submit), iqm-client 36 3 (an architecture fetch before every
submit, but no poll).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from _emulator_process import emulator_process, emulator_stats, reset_stats
from _shared import IQM36_REQUIREMENT, SideEnvError, side_env_python

from iqm_async.client import AsyncIQMClient
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy

THREADS = 32
IQM36_RUNNER = Path(__file__).with_name("_iqm36_runner.py")
IQM36_TIMEOUT_S = 900.0
SERVER_MAPPING = {"q0": "QB1"}
"""The IQM Server rows submit circuits on ``q0`` with this mapping, as the iqm-client 36
runner does; the V1 rows use ``QB1`` directly, as the iqm-client 22 rows do."""


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


# --- iqm-client 22.16, V1 routes, in this process -------------------------------------------------


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


def run_official_pool(url: str, jobs: int, shots: int, threads: int = THREADS) -> Figures:
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


# --- iqm-client 36.0, IQM Server API v1 routes, in a subprocess -----------------------------------


def iqm36_python() -> Path:
    """The side environment's Python (built on first use); exits with the reason if it cannot."""
    try:
        python, build_seconds = side_env_python("iqm-client-36", IQM36_REQUIREMENT)
    except SideEnvError as exc:
        raise SystemExit(f"no iqm-client 36 side environment: {exc}") from None
    if build_seconds is not None:
        print(f"built the iqm-client 36 side environment in {build_seconds:.0f} s")
    return python


def run_iqm36(python: Path, url: str, jobs: int, shots: int, threads: int) -> Figures:
    """``threads=0``: sequential. The runner counts the requests itself (stats after - before),
    since it builds its clients (one request each) before the clock starts."""
    # iqm-client 36 reads URL and credentials from IQM_* variables and refuses mixed sources.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IQM_") and k != "PYTHONPATH"}
    params = {"url": url, "jobs": jobs, "threads": threads, "shots": shots}
    done = subprocess.run(
        [str(python), str(IQM36_RUNNER)],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        env=env,
        timeout=IQM36_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the iqm-client 36 runner failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    how = f"{threads} threads" if threads else "sequential"
    return Figures(f"iqm-client 36.0, {how}", jobs, out["seconds"], out["requests"])


# --- iqm_async ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OurAPI:
    """How iqm_async is pointed at one of the emulator's two APIs."""

    label: str
    api: str
    quantum_computer: str | None
    qubit: str
    qubit_mapping: Mapping[str, str] | None

    def client(self, url: str, poll: PollPolicy | None = None) -> AsyncIQMClient:
        return AsyncIQMClient(url, api=self.api, quantum_computer=self.quantum_computer, poll=poll)

    def circuit(self, index: int) -> Circuit:
        return Circuit(
            name=f"async-{index}",
            instructions=(
                Instruction(name="prx", qubits=(self.qubit,), args={"angle_t": 0.5, "phase_t": 0}),
                Instruction(name="measure", qubits=(self.qubit,), args={"key": "m"}),
            ),
        )


V1 = OurAPI("V1", "cocos", None, "QB1", None)
IQM_SERVER = OurAPI("IQM Server", "iqm-server", "garnet", "q0", SERVER_MAPPING)


async def run_ours_sequential(url: str, ours: OurAPI, jobs: int, shots: int) -> Figures:
    reset_stats(url)
    async with ours.client(url) as client:
        started = time.perf_counter()
        for index in range(jobs):
            job = await client.submit(
                ours.circuit(index), shots=shots, qubit_mapping=ours.qubit_mapping
            )
            await job.result(timeout=120)
        seconds = time.perf_counter() - started
    return Figures(f"iqm_async {ours.label}, sequential", jobs, seconds, requests_seen(url))


async def run_ours_concurrent(
    url: str, ours: OurAPI, jobs: int, shots: int, max_polls_per_s: float
) -> Figures:
    reset_stats(url)
    poll = PollPolicy(max_polls_per_s=max_polls_per_s)
    async with ours.client(url, poll=poll) as client:
        started = time.perf_counter()
        handles: list[Any] = [None] * jobs

        async def submit(index: int) -> None:
            circuit = ours.circuit(200_000 + index)
            handles[index] = await client.submit(
                circuit, shots=shots, qubit_mapping=ours.qubit_mapping
            )

        async with anyio.create_task_group() as tg:
            for index in range(jobs):
                tg.start_soon(submit, index)
        results = await client.gather(handles, timeout=600)
        seconds = time.perf_counter() - started
    assert all(r.measurements for r in results)
    cap = "no poll cap" if math.isinf(max_polls_per_s) else f"cap {max_polls_per_s:.0f} polls/s"
    name = f"iqm_async {ours.label}, concurrent ({cap})"
    return Figures(name, jobs, seconds, requests_seen(url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs for iqm_async concurrent")
    parser.add_argument(
        "--capped-jobs", type=int, default=500, help="iqm_async concurrent, polls capped at 50/s"
    )
    parser.add_argument("--sequential-jobs", type=int, default=20, help="iqm_async sequential")
    parser.add_argument(
        "--official-jobs", type=int, default=8, help="iqm-client 22 and 36 sequential"
    )
    parser.add_argument(
        "--official-pool-jobs", type=int, default=128, help="iqm-client 22 and 36, 32 threads"
    )
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument(
        "--job-seconds", type=float, default=0.5, help="job time of the second emulator"
    )
    args = parser.parse_args()
    os.environ.pop("IQM_TOKEN", None)
    python36 = iqm36_python()
    started = time.monotonic()
    for job_seconds in (0.0, args.job_seconds):
        options = ("--seed", "1", "--parallel", "--job-seconds", str(job_seconds))
        with emulator_process(*options) as (url, _):
            v1 = Comparison(
                "V1 jobs API: iqm_async vs iqm-client 22.16",
                run_official_sequential(url, args.official_jobs, args.shots),
                run_official_pool(url, args.official_pool_jobs, args.shots),
                *run_ours(url, V1, args),
            )
            server = Comparison(
                "IQM Server API v1: iqm_async vs iqm-client 36.0",
                run_iqm36(python36, url, args.official_jobs, args.shots, 0),
                run_iqm36(python36, url, args.official_pool_jobs, args.shots, THREADS),
                *run_ours(url, IQM_SERVER, args),
            )
        print(
            f"\nemulator (separate process): parallel jobs of {job_seconds:g} s, "
            f"{args.shots} shots/job"
        )
        v1.report()
        server.report()
    print(f"\ntotal {time.monotonic() - started:.0f} s")


def run_ours(url: str, ours: OurAPI, args: argparse.Namespace) -> list[Figures]:
    return [
        anyio.run(run_ours_sequential, url, ours, args.sequential_jobs, args.shots),
        anyio.run(run_ours_concurrent, url, ours, args.capped_jobs, args.shots, 50.0),
        anyio.run(run_ours_concurrent, url, ours, args.jobs, args.shots, math.inf),
    ]


@dataclass
class Comparison:
    """One API: iqm-client sequential and threaded, iqm_async sequential and concurrent."""

    title: str
    theirs_sequential: Figures
    theirs_threads: Figures
    ours_sequential: Figures
    ours_capped: Figures
    ours_free: Figures

    def report(self) -> None:
        print(f"{self.title}")
        print(f"  {'client':<48} {'jobs':>6} {'seconds':>8} {'jobs/s':>8} {'requests/job':>13}")
        rows = (
            self.theirs_sequential,
            self.theirs_threads,
            self.ours_sequential,
            self.ours_capped,
            self.ours_free,
        )
        for f in rows:
            print(
                f"  {f.name:<48} {f.jobs:>6} {f.seconds:>8.2f} {f.jobs_per_s:>8.1f} "
                f"{f.requests_per_job:>13.2f}"
            )
        pairs = (
            ("sequential vs sequential", self.ours_sequential, self.theirs_sequential),
            ("concurrent (cap 50/s) vs 32 threads", self.ours_capped, self.theirs_threads),
            ("concurrent (no cap) vs 32 threads", self.ours_free, self.theirs_threads),
        )
        print("  ratios, iqm_async / iqm-client:  jobs/s   requests/job")
        for label, ours, theirs in pairs:
            speed = ours.jobs_per_s / theirs.jobs_per_s
            requests = ours.requests_per_job / theirs.requests_per_job
            print(f"    {label:<36} {speed:>6.2f}x {requests:>10.2f}x")


if __name__ == "__main__":
    main()
