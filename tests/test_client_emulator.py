"""AsyncIQMClient end to end against the emulator: thousands of jobs, the poll cap,
submissions that must not be duplicated, and cancellation that leaves nothing behind.

In-process tests use ``httpx.ASGITransport`` (fast); the ones about timeouts, dropped
connections and the connection pool use a real loopback server.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from emulator_fixtures import LiveEmulator, live_emulator_factory
from fastapi import FastAPI

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.faults import FaultPlan
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy, RetryPolicy
from iqm_async.results import JobPhase

__all__ = ["live_emulator_factory"]  # the fixture, imported for this module

pytestmark = pytest.mark.anyio

ASGI_URL = "http://emulator"
STATUS_ROUTE = "GET /jobs/{job_id}/status"


def bit_circuit(index: int) -> tuple[Circuit, int]:
    """A one-qubit circuit that always measures ``index % 2``; its name makes each body unique
    (the emulator counts identical bodies within a minute as duplicate submissions)."""
    bit = index % 2
    instructions = [Instruction(name="measure", qubits=("q0",), args={"key": "m"})]
    if bit:
        prx = Instruction(name="prx", qubits=("q0",), args={"angle_t": 0.5, "phase_t": 0.0})
        instructions.insert(0, prx)
    return Circuit(name=f"job-{index}", instructions=tuple(instructions)), bit


class StatusClock:
    """An ASGI wrapper that records when each status poll reaches the server (monotonic s)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.poll_times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_status_poll(scope["method"], scope["path"]):
            self.poll_times.append(time.monotonic())
        await self.app(scope, receive, send)


_SERVER_API_POLL = re.compile(r"^/api/v1/jobs/[0-9a-f-]{36}$")


def is_status_poll(method: str, path: str) -> bool:
    """A status poll of either API: V1's ``GET jobs/{id}/status``, the IQM Server API's
    ``GET api/v1/jobs/{id}``."""
    return method == "GET" and (path.endswith("/status") or bool(_SERVER_API_POLL.match(path)))


APIS = ["cocos", "iqm-server"]


def api_options(api: str) -> dict[str, Any]:
    """The client arguments that pick ``api`` on the emulator (no probe request)."""
    return {"api": api, "quantum_computer": "garnet" if api == "iqm-server" else None}


def max_in_any_window(times: list[float], window_s: float = 1.0) -> int:
    """The most events in any half-open window of ``window_s`` seconds."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


async def submit_all(client: AsyncIQMClient, count: int) -> list[tuple[Any, int]]:
    jobs: list[tuple[Any, int]] = [None] * count  # type: ignore[list-item]

    async def one(index: int) -> None:
        circuit, bit = bit_circuit(index)
        job = await client.submit(circuit, shots=8, qubit_mapping={"q0": f"QB{index % 20 + 1}"})
        jobs[index] = (job, bit)

    async with anyio.create_task_group() as tg:
        for index in range(count):
            tg.start_soon(one, index)
    return jobs


# --- thousands of jobs --------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
async def test_2000_instant_jobs_gathered(anyio_backend: str, api: str) -> None:
    """2,000 concurrent submissions, all results gathered and correct, <= 3 requests per job."""
    app = create_app(EmulatorConfig(seed=7, parallel=True, job_seconds=0.0))
    emulator = app.state.emulator
    count = 2000
    poll = PollPolicy(max_polls_per_s=math.inf)
    started = time.perf_counter()
    async with AsyncIQMClient(
        ASGI_URL,
        transport=httpx.ASGITransport(app=app),
        poll=poll,
        max_connections=100,
        **api_options(api),
    ) as client:
        jobs = await submit_all(client, count)
        results = await client.gather([job for job, _ in jobs], timeout=120)
        elapsed = time.perf_counter() - started
        for (_, bit), result in zip(jobs, results, strict=True):
            assert result.status.phase is JobPhase.COMPLETED
            assert result.measurements is not None
            assert result.measurements[0]["m"] == [[bit]] * 8
        assert client.request_count <= 3 * count
        kinds = client.requests_by_kind
    stats = emulator.stats()
    assert stats["jobs_created"] == count
    assert stats["duplicate_submissions"] == 0
    print(
        f"\n[{anyio_backend}, {api}] {count} instant jobs in {elapsed:.2f} s "
        f"({count / elapsed:.0f} jobs/s), {sum(kinds.values()) / count:.2f} requests/job {kinds}"
    )


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_1000_waiting_jobs_stay_under_the_poll_cap(anyio_backend: str) -> None:
    """1,000 jobs of 2 s: the server sees at most ``max_polls_per_s`` polls in any second, and
    each result reaches its caller soon after the client learns the job is ready.

    Takes about 9 s per backend. Also prints the latency from the job being ready at the
    server, which is bounded below by count / max_polls_per_s (see the report).
    """
    cap = 200.0
    count = 1000
    app = create_app(EmulatorConfig(seed=3, parallel=True, job_seconds=2.0))
    emulator = app.state.emulator
    clock = StatusClock(app)
    poll = PollPolicy(max_polls_per_s=cap)
    delivered: dict[str, float] = {}
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=clock), poll=poll
    ) as client:
        jobs = await submit_all(client, count)

        async def wait(job: Any, bit: int) -> None:
            result = await job.result(timeout=60)
            delivered[job.id] = time.monotonic()
            assert result.measurements[0]["m"] == [[bit]] * 8

        async with anyio.create_task_group() as tg:
            for job, bit in jobs:
                tg.start_soon(wait, job, bit)
        requests_per_job = client.request_count / count
        learnt = {job.id: job.terminal_seen_at for job, _ in jobs}
    assert len(delivered) == count
    busiest_second = max_in_any_window(clock.poll_times)
    assert busiest_second <= cap
    # From the client learning "ready" (the status reply) to the caller holding the result.
    anyio_now, mono_now = anyio.current_time(), time.monotonic()
    pipeline = sorted(
        delivered[jid] - (learnt_at - anyio_now + mono_now)  # type: ignore[operator]
        for jid, learnt_at in learnt.items()
    )
    p95_pipeline = pipeline[int(0.95 * count)]
    assert p95_pipeline <= 0.300  # 150 ms measured alone; room for a loaded CI
    from_ready = sorted(
        delivered[job.id] - emulator.job_record(job.id).times.job_end for job, _ in jobs
    )
    polls = emulator.stats()["requests_by_route"][STATUS_ROUTE]
    print(
        f"\n[{anyio_backend}] cap {cap:.0f}/s: busiest second {busiest_second} polls, "
        f"{polls} polls in all, {requests_per_job:.2f} requests/job; ready-known -> caller "
        f"p95 {p95_pipeline * 1000:.0f} ms; server-ready -> caller p50 "
        f"{from_ready[count // 2]:.2f} s, p95 {from_ready[int(0.95 * count)]:.2f} s "
        f"(lower bound for p95 with this cap: {0.95 * count / cap:.2f} s)"
    )


async def test_single_job_latency_from_server_ready(anyio_backend: str) -> None:
    """With few jobs the cap does not bind: the poll schedule alone sets the delay."""
    app = create_app(EmulatorConfig(seed=5, parallel=True, job_seconds=0.3))
    emulator = app.state.emulator
    poll = PollPolicy(
        initial_interval_s=0.05, backoff_factor=1.5, max_interval_s=0.075, max_polls_per_s=1000
    )
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=app), poll=poll
    ) as client:
        jobs = await submit_all(client, 20)
        lags = []

        async def wait(job: Any) -> None:
            await job.result(timeout=10)
            lags.append(time.monotonic() - emulator.job_record(job.id).times.job_end)

        async with anyio.create_task_group() as tg:
            for job, _ in jobs:
                tg.start_soon(wait, job)
    lags.sort()
    # p95: the 150 ms, measured alone (benchmarks/poll_latency.py); twice that here
    # leaves room for a loaded 2-core CI, and still fails a schedule that backs off.
    assert lags[int(0.95 * len(lags))] <= 0.300


# --- submissions that must not be duplicated ----------------------------------------------------


async def test_read_timeout_on_submit_is_uncertain_and_never_duplicated(
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=11, parallel=True, latency_ms=400))
    timeout = httpx.Timeout(5.0, read=0.1)
    circuit, _ = bit_circuit(1)
    async with AsyncIQMClient(live.url, api="cocos", timeout=timeout) as client:
        with pytest.raises(errors.SubmissionUncertainError, match="may have created the job"):
            await client.submit(circuit, shots=8, qubit_mapping={"q0": "QB1"})
        assert client.request_count == 1
    await anyio.sleep(0.8)  # let the server finish what it received
    stats = live.emulator.stats()
    assert stats["requests_by_route"]["POST /jobs"] == 1  # sent once, never resent
    assert stats["jobs_created"] <= 1  # uvicorn drops a request whose client left early
    assert stats["duplicate_submissions"] == 0


async def test_dropped_submit_is_uncertain_and_never_duplicated(
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=12, parallel=True, drop_rate=1.0))
    circuit, _ = bit_circuit(1)
    async with AsyncIQMClient(live.url, api="cocos") as client:
        with pytest.raises(errors.SubmissionUncertainError, match=r"connection .* broke"):
            await client.submit(circuit, shots=8, qubit_mapping={"q0": "QB1"})
        assert client.request_count == 1
    stats = live.emulator.stats()
    assert stats["jobs_created"] == 1  # the job exists: resending would have run it twice
    assert stats["duplicate_submissions"] == 0


async def test_faulty_server_every_job_still_completes(anyio_backend: str) -> None:
    """5xx, 429 and dropped connections on reads never reach a waiter."""
    config = EmulatorConfig(seed=13, parallel=True, job_seconds=0.05)
    app = create_app(config)
    emulator = app.state.emulator
    retry = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05, max_attempts=10)
    poll = PollPolicy(max_polls_per_s=math.inf)
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=app), retry=retry, poll=poll
    ) as client:
        jobs = await submit_all(client, 100)
        # Faults from now on (a faulty submit may rightly end as SubmissionUncertainError).
        faulty = EmulatorConfig(
            fail_rate=0.2, throttle_rate=0.1, drop_rate=0.05, retry_after_s=0.02
        )
        emulator.faults = FaultPlan(faulty, random.Random(1))
        results = await client.gather([job for job, _ in jobs], timeout=60)
    assert all(r.status.phase is JobPhase.COMPLETED for r in results)
    injected = emulator.stats()["faults_injected"]
    assert injected["5xx"] > 10 and injected["429"] > 5 and injected["drop"] > 0


# --- cancellation -------------------------------------------------------------------------------


def busy_connections(client: AsyncIQMClient) -> int:
    """Requests holding or waiting for a connection in httpx's pool."""
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    active = [conn for conn in pool.connections if not (conn.is_idle() or conn.is_closed())]
    return len(pool._requests) + len(active)


def running_tasks() -> int:
    """Tasks alive on this event loop (asyncio or trio)."""
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        def count(task: Any) -> int:
            return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

        return count(trio.lowlevel.current_root_task())
    import asyncio

    return len(asyncio.all_tasks())


async def test_cancelled_waits_leave_no_task_and_no_busy_connection(
    anyio_backend: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    live = live_emulator_factory(
        EmulatorConfig(seed=21, parallel=True, job_seconds=30.0, latency_ms=40)
    )
    poll = PollPolicy(initial_interval_s=0.01, max_interval_s=0.05, max_polls_per_s=500)
    tasks_before = running_tasks()
    async with AsyncIQMClient(live.url, api="cocos", poll=poll, max_connections=8) as client:
        jobs = await submit_all(client, 40)
        with anyio.move_on_after(0.5):
            async with anyio.create_task_group() as tg:
                for job, _ in jobs:
                    tg.start_soon(job.result)
        # the poll answers in flight come back, then nothing more is sent
        with anyio.fail_after(2):
            while client.polls_in_flight:  # noqa: ASYNC110 - polling a plain counter
                await anyio.sleep(0.01)
        sent = client.request_count
        await anyio.sleep(0.3)
        assert client.request_count == sent
        assert busy_connections(client) == 0
        # a request cancelled mid-flight does not leave its connection checked out
        with anyio.move_on_after(0.01):
            await client.quantum_architecture()
        assert busy_connections(client) == 0
        assert (await client.quantum_architecture()).qubits  # the pool still works
    assert running_tasks() == tasks_before
    assert live.emulator.stats()["jobs_by_status"].get("aborted", 0) == 0


async def test_abort_on_cancel_aborts_on_the_server(
    anyio_backend: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=22, parallel=True, job_seconds=30.0))
    async with AsyncIQMClient(live.url, api="cocos") as client:
        jobs = await submit_all(client, 3)
        with anyio.move_on_after(0.2):
            async with anyio.create_task_group() as tg:
                for job, _ in jobs:
                    tg.start_soon(lambda j=job: j.result(abort_on_cancel=True))
        for job, _ in jobs:
            with pytest.raises(errors.JobAbortedError):
                await job.result(timeout=10)
            final = await job.wait()
            assert (final.phase, final.raw) == (JobPhase.CANCELLED, "aborted")
        assert busy_connections(client) == 0


# --- credentials --------------------------------------------------------------------------------


async def test_password_login_through_the_client(anyio_backend: str) -> None:
    config = EmulatorConfig(
        seed=31, parallel=True, job_seconds=0.0, require_auth=True, username="u", password="pw-9"
    )
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with AsyncIQMClient(
        ASGI_URL,
        api="cocos",
        auth_server_url=ASGI_URL,
        username="u",
        password="pw-9",
        transport=transport,
    ) as client:
        job = await client.submit(bit_circuit(1)[0], shots=8, qubit_mapping={"q0": "QB1"})
        assert (await job.result(timeout=10)).measurements == [{"m": [[1]] * 8}]
        assert "pw-9" not in repr(client)
    assert app.state.emulator.stats()["token_requests"]["password"] == 1


async def test_no_credentials_against_an_auth_server_is_refused(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=32, parallel=True, require_auth=True))
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=app)
    ) as client:
        with pytest.raises(errors.UnauthorizedError):
            await client.submit(bit_circuit(1)[0], shots=8, qubit_mapping={"q0": "QB1"})
