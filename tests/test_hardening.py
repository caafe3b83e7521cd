"""Hardening against a misbehaving server (issue 16, invariants 1, 2 and 7), on both APIs.

1. Each request has an overall deadline: a reply that trickles in a byte at a time (each
   byte well within httpx's read timeout) ends at the client's timeout, as
   ``RequestTimeoutError`` on a read and ``SubmissionUncertainError`` on a submit (never
   resent).
2. Stuck polls never starve other requests: the poller holds at most
   ``poll_connections()`` slots, so a submit and a healthy route still get a connection;
   and a poll or result fetch nobody waits for any more is cancelled at once.
3. (Invariant 7) A dead server: a wait without a timeout ends, after the retry policy's
   stretch of connection failures, with a ``ConnectError`` naming the URL; a wait with a
   timeout rides it out; nothing is polled once the last waiter left.

The live tests run a real loopback emulator that trickles some routes (``trickle_rate=1``
with ``fault_routes``); the client's per-request timeout is small (0.4 s) where the deadline
is under test, and long (30 s) where it must not be what ends a stuck request. Each test
would hang on the code before the fix; ``GUARD_S`` turns such a hang into a failure.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import anyio
import httpx
import pytest
import respx
from emulator_fixtures import LiveEmulator, free_port
from respx_fixtures import FAST_POLL, MOCK_API_URL
from sample_circuits import bit_circuit
from test_client_emulator import APIS, api_options
from test_client_respx import READY_NO_WARNINGS

from iqm_async import errors
from iqm_async.client import DEFAULT_TIMEOUT, AsyncIQMClient
from iqm_async.emulator import EmulatorConfig
from iqm_async.emulator.__main__ import config_from_args
from iqm_async.emulator.faults import FaultPlan
from iqm_async.policies import PollPolicy, RetryPolicy, poll_connections
from iqm_async.transport import request_deadline_s

GUARD_S = 8.0
"""Longest any live test here may take; on the code before the fix each one hangs past it."""
SHORT_TIMEOUT_S = 0.4
LONG_TIMEOUT_S = 30.0
TEST_RETRY = RetryPolicy(
    max_attempts=2, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_fraction=0
)
TEST_POLL = PollPolicy(initial_interval_s=0.01, max_interval_s=0.05, max_polls_per_s=1000)

SUBMIT_ROUTE = {"cocos": "POST /jobs$", "iqm-server": "POST /api/v1/jobs/[^/]+/circuit$"}
"""Each API's submit route, as an emulator ``fault_routes`` pattern."""
JOB_READS = {"cocos": "GET /jobs/", "iqm-server": "GET /api/v1/jobs/"}
"""Each API's status and result routes (every GET of a job)."""
RESULT_ROUTE = {"cocos": "GET /jobs/[^/]+$", "iqm-server": "GET /api/v1/jobs/[^/]+/artifacts/"}
"""Each API's result route alone."""


def trickling(*routes: str) -> EmulatorConfig:
    """Instant parallel jobs; every answer of ``routes`` trickles (a byte per 20 ms, for
    at least 20 s: far longer than any test here waits)."""
    return EmulatorConfig(
        seed=16,
        parallel=True,
        job_seconds=0.0,
        trickle_rate=1.0,
        trickle_gap_ms=20.0,
        trickle_s=20.0,
        fault_routes=routes,
    )


@asynccontextmanager
async def client_for(
    api: str, url: str, *, request_timeout_s: float, **kwargs: Any
) -> AsyncIterator[AsyncIQMClient]:
    options: dict[str, Any] = {"retry": TEST_RETRY, "poll": TEST_POLL, **kwargs}
    async with AsyncIQMClient(
        url, timeout=request_timeout_s, **api_options(api), **options
    ) as client:
        yield client


async def submit_one(client: AsyncIQMClient, index: int = 0) -> Any:
    return await client.submit(bit_circuit(index), shots=2, qubit_mapping={"q0": "QB1"})


async def until(condition: Callable[[], bool], within_s: float = 2.0) -> None:
    """Return once ``condition()`` holds; fail after ``within_s``."""
    with anyio.fail_after(within_s):
        while not condition():  # noqa: ASYNC110 - no event tells when these counters change
            await anyio.sleep(0.01)


# --- decisions (no I/O) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (httpx.Timeout(5.0), 5.0),
        (DEFAULT_TIMEOUT, 60.0),
        (httpx.Timeout(10.0, connect=30.0), 30.0),
        (httpx.Timeout(None, read=2.0), 2.0),
        (httpx.Timeout(None), None),
    ],
)
def test_request_deadline_is_the_largest_part_of_the_timeout(
    timeout: httpx.Timeout, expected: float | None
) -> None:
    assert request_deadline_s(timeout) == expected


def test_the_poller_never_holds_every_connection() -> None:
    assert [poll_connections(n) for n in (1, 2, 3, 4, 8, 16)] == [1, 1, 2, 3, 6, 12]
    assert all(1 <= poll_connections(n) < n for n in range(2, 200))


def test_server_unreachable_needs_both_the_count_and_the_time() -> None:
    policy = RetryPolicy(unreachable_after_failures=3, unreachable_after_s=1.0)
    assert not policy.server_unreachable(2, 100.0)  # a long gap, but too few tries
    assert not policy.server_unreachable(100, 0.5)  # many tries within a blink
    assert policy.server_unreachable(3, 1.0)
    assert RetryPolicy().server_unreachable(5, 30.0)
    assert not RetryPolicy().server_unreachable(4, 3600.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"unreachable_after_failures": 0},
            "unreachable_after_failures must be an int >= 1, got 0",
        ),
        ({"unreachable_after_failures": True}, "unreachable_after_failures must be an int >= 1"),
        ({"unreachable_after_failures": 2.5}, "unreachable_after_failures must be an int >= 1"),
        ({"unreachable_after_s": -1.0}, "unreachable_after_s must be a finite number >= 0"),
        ({"unreachable_after_s": math.inf}, "unreachable_after_s must be a finite number >= 0"),
        ({"unreachable_after_s": math.nan}, "unreachable_after_s must be a finite number >= 0"),
    ],
)
def test_bad_unreachable_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        RetryPolicy(**kwargs)


def test_trickle_is_drawn_at_its_rate_and_only_on_fault_routes() -> None:
    config = EmulatorConfig(trickle_rate=0.3, drop_rate=0.1, fault_routes=("GET /jobs/",))
    plan = FaultPlan(config, random.Random(5))
    kinds = [plan.draw() for _ in range(10_000)]
    trickles = sum(1 for f in kinds if f is not None and f.kind == "trickle")
    assert abs(trickles / len(kinds) - 0.3) < 0.02
    assert plan.active and plan.trickle_gap_s == 0.05 and plan.trickle_s == 10.0
    assert plan.applies("GET", "/jobs/abc/status")
    assert not plan.applies("POST", "/jobs") and not plan.applies("GET", "/quantum-architecture")
    assert FaultPlan(EmulatorConfig(), random.Random(5)).applies("POST", "/jobs")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trickle_rate": 1.5}, r"trickle_rate must be in \[0, 1\], got 1.5"),
        ({"trickle_rate": 0.6, "fail_rate": 0.5}, r"\+ trickle_rate must not exceed 1"),
        ({"trickle_gap_ms": 0.0}, "trickle_gap_ms must be positive, got 0.0"),
        ({"trickle_s": -1.0}, "trickle_s must not be negative"),
        ({"fault_routes": ("GET /jobs/(",)}, r"'GET /jobs/\(' is not a regular expression"),
    ],
)
def test_bad_trickle_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message):
        EmulatorConfig(**kwargs)


def test_trickle_flags_map_to_the_config() -> None:
    flags = ["--trickle-rate", "0.2", "--trickle-gap-ms", "5", "--trickle-s", "3", "--fault-routes"]
    config, _, _ = config_from_args([*flags, "GET /jobs/,POST /jobs$"])
    assert (config.trickle_rate, config.trickle_gap_ms, config.trickle_s) == (0.2, 5.0, 3.0)
    assert config.fault_routes == ("GET /jobs/", "POST /jobs$")


# --- 1. the overall deadline ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
async def test_a_trickling_read_ends_at_the_timeout(
    api: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    live = live_emulator_factory(trickling(".*"))  # every answer trickles
    with anyio.fail_after(GUARD_S):
        async with client_for(api, live.url, request_timeout_s=SHORT_TIMEOUT_S) as client:
            started = anyio.current_time()
            with pytest.raises(errors.RequestTimeoutError) as caught:
                await client.quantum_architecture()
            took = anyio.current_time() - started
    assert "within the request's deadline of 0.4 s" in str(caught.value)
    assert caught.value.url is not None and caught.value.url.startswith(live.url)
    assert client.requests_by_kind == {"architecture": TEST_RETRY.max_attempts}
    assert took >= TEST_RETRY.max_attempts * SHORT_TIMEOUT_S * 0.9  # each attempt ran its time


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
async def test_a_trickling_submit_is_uncertain_and_never_resent(
    api: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    live = live_emulator_factory(trickling(SUBMIT_ROUTE[api]))
    with anyio.fail_after(GUARD_S):
        async with client_for(api, live.url, request_timeout_s=SHORT_TIMEOUT_S) as client:
            with pytest.raises(errors.SubmissionUncertainError) as caught:
                await submit_one(client)
            assert client.requests_by_kind == {"submit": 1}
    assert "within the request timeout" in str(caught.value)
    stats = live.emulator.stats()
    assert stats["jobs_created"] == 1 and stats["duplicate_submissions"] == 0
    (route,) = stats["faults_by_route"]
    assert stats["faults_by_route"][route] == {"trickle 201": 1}


# --- 2. stuck polls never starve others -------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("stuck", ["status", "result"])
@pytest.mark.parametrize("api", APIS)
async def test_stuck_polls_leave_a_connection_for_submits_and_healthy_routes(
    api: str, stuck: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    routes = JOB_READS[api] if stuck == "status" else RESULT_ROUTE[api]
    live = live_emulator_factory(trickling(routes))
    with anyio.fail_after(GUARD_S):
        async with (
            client_for(
                api, live.url, request_timeout_s=LONG_TIMEOUT_S, max_connections=2
            ) as client,
            anyio.create_task_group() as waits,
        ):
            jobs = [await submit_one(client, i) for i in range(3)]
            for job in jobs:
                waits.start_soon(job.result)  # waits without a timeout: they stay
            await until(lambda: client.polls_in_flight >= 1)
            await anyio.sleep(0.1)  # let the poller take every slot it can
            # The poller holds one of the two connections (poll_connections(2) == 1); the
            # other stays free for these two:
            fresh = await submit_one(client, 9)
            architecture = await client.quantum_architecture()
            waits.cancel_scope.cancel()
    assert fresh.id in live.emulator.jobs and architecture.qubits


@pytest.mark.anyio
@pytest.mark.parametrize("stuck", ["status", "result"])
@pytest.mark.parametrize("api", APIS)
async def test_a_poll_nobody_waits_for_is_cancelled(
    api: str, stuck: str, live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator]
) -> None:
    routes = JOB_READS[api] if stuck == "status" else RESULT_ROUTE[api]
    live = live_emulator_factory(trickling(routes))
    with anyio.fail_after(GUARD_S):
        async with client_for(api, live.url, request_timeout_s=LONG_TIMEOUT_S) as client:
            job = await submit_one(client)
            with pytest.raises(errors.JobTimeoutError):
                await job.result(timeout=0.3)
            # Its request is cancelled now, not when its 30 s deadline passes.
            await until(lambda: client.polls_in_flight == 0, within_s=1.0)
            with anyio.move_on_after(0.3):  # a waiter cancelled from outside
                await job.result()
            await until(lambda: client.polls_in_flight == 0, within_s=1.0)
            sent = client.request_count
            await anyio.sleep(0.2)
            assert client.request_count == sent  # nothing polls for it any more
    await until(lambda: live.emulator.open_connections() == 0, within_s=2.0)


# --- 7. a dead server -------------------------------------------------------------------------

DEAD_RETRY = RetryPolicy(
    initial_backoff_s=0.01,
    max_backoff_s=0.05,
    jitter_fraction=0,
    unreachable_after_failures=3,
    unreachable_after_s=0.3,
)


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
async def test_a_wait_without_timeout_learns_the_server_is_unreachable(api: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with anyio.fail_after(GUARD_S):
        async with client_for(api, url, request_timeout_s=1.0, retry=DEAD_RETRY) as client:
            job = client.job(uuid4())
            started = anyio.current_time()
            with pytest.raises(errors.ConnectError) as caught:
                await job.result()
            assert anyio.current_time() - started >= DEAD_RETRY.unreachable_after_s
            assert client.polls_in_flight == 0
            sent = client.request_count
            await anyio.sleep(0.2)
            assert client.request_count == sent  # its last waiter left: no more polls
            # A wait with a timeout rides the outage out until its own deadline.
            with pytest.raises(errors.JobTimeoutError):
                await job.result(timeout=0.3)
            # as_completed and gather without a timeout are told too.
            with pytest.raises(errors.ConnectError):
                await client.gather([job, client.job(uuid4())])
    error = caught.value
    assert error.url is not None and error.url.startswith(url)
    assert f"The server at {url}/ cannot be reached" in str(error)
    assert "connection attempts in a row failed" in str(error)
    assert not isinstance(error, errors.AuthServerUnavailableError)


@pytest.mark.anyio
async def test_a_result_fetch_gives_up_on_an_unreachable_server(
    mock_api: respx.MockRouter,
) -> None:
    """The status says ready, then every connection fails: the result fetch, retried until
    cancelled otherwise, stops when the server counts as unreachable; so does a counts
    fetch."""
    lost, done = str(uuid4()), str(uuid4())
    for job_id in (lost, done):
        mock_api.get(f"/jobs/{job_id}/status").respond(200, json={"status": "ready"})
    refused = httpx.ConnectError("refused")
    result_route = mock_api.get(f"/jobs/{lost}").mock(side_effect=refused)
    mock_api.get(f"/jobs/{done}").respond(200, json=READY_NO_WARNINGS)
    counts_route = mock_api.get(f"/jobs/{done}/counts").mock(side_effect=refused)
    with anyio.fail_after(GUARD_S):
        async with AsyncIQMClient(
            MOCK_API_URL, api="cocos", retry=DEAD_RETRY, poll=FAST_POLL
        ) as client:
            with pytest.raises(errors.ConnectError, match="cannot be reached"):
                await client.job(lost).result()
            assert result_route.call_count >= DEAD_RETRY.unreachable_after_failures
            await client.job(done).result()  # an answer: the server is back
            with pytest.raises(errors.ConnectError, match="cannot be reached"):
                await client.job(done).counts()
            assert counts_route.call_count >= DEAD_RETRY.unreachable_after_failures
