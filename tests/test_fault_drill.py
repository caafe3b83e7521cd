"""The fault drill: thousands of jobs against an emulator that misbehaves on every route.

Over real loopback HTTP, the emulator answers 20 % of requests (token endpoint included)
with 500/502/503, 5 % with 429 and a short ``Retry-After``, drops 2 % of connections after
the route ran (so a dropped submit may have created its job), adds latency with rare
spikes, issues 2 s tokens and fails 5 % of the jobs. Jobs go through ``AsyncIQMClient``
and circuits through ``IQMBackend``, on each server API the client speaks: the V1 "CoCoS"
jobs API (password login at the auth server, which the client refreshes) and the IQM Server
API v1 (a tokens file that a stand-in for IQM's token manager rewrites, through the same
faulty auth server; the client re-reads it). Afterwards:

- every job the client knows ends with a result equal to the emulator's record of it, or
  with a typed ``IQMError`` (a failed job's error carries the server's message: on V1 the
  emulator's failure message, on the IQM Server API the ``errors`` entry of its JobData);
- no handle is lost: a wait that ended on a fault is waited for again on the same job id;
- the emulator saw no duplicate submission;
- the jobs the emulator created that the client never heard of are exactly the submits
  whose answer was dropped after the job was created (``"drop 201"`` on the submit route:
  ``POST /jobs`` or ``POST /api/v1/jobs/{qc}/circuit``), each matched by circuit name to a
  ``SubmissionUncertainError`` the caller received, and the number of those errors is
  exactly the number of 500/502 answers and dropped connections on the submit route (the
  only ways a submit can end uncertain);
- no request was refused for its token (401): the client kept its tokens fresh.

The client drill submits 2,000 jobs on V1 and 1,000 on the IQM Server API (same faults,
same checks, every invariant still exercised; half the count keeps the suite's time down).

A second, shorter client drill (400 jobs per API, no auth) adds the hostile server of issue
16: 3 % of answers trickle in a byte at a time (the route ran: a trickled submit created its
job), and the server is killed (every connection aborted) and restarted on the same port,
with the same job store, a third of the way through. Every job the client knows ends with
its result or a typed error, no handle is lost, no job is submitted twice, and every job the
client never heard of belongs to a submit it was told was uncertain.
Takes about 65 s on 2 busy cores (client drills ~20 s + ~10 s, trickle and restart drills
~12 s each, backend drills ~3 s each;
the emulator shares the process, so the GIL bounds it). asyncio only: the drill is one long
run, and ``test_client_emulator`` covers trio end to end. The seeds are fixed, but task
scheduling decides which request draws which fault, so the counts vary from run to run; the
checks are invariants and hold exactly in every run.
"""

from __future__ import annotations

import json
import pathlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from emulator_fixtures import LiveEmulator, free_port
from pytket.backends import ResultHandle
from pytket.circuit import Bit, Circuit, Node
from sample_circuits import bit_circuit
from test_client_emulator import APIS, api_options
from tokens_file_tool import TokensFileTool

from iqm_async import errors
from iqm_async.backend import IQMBackend
from iqm_async.client import AsyncIQMClient
from iqm_async.compiler import to_backend_result
from iqm_async.emulator import Emulator, EmulatorConfig, create_app
from iqm_async.emulator.core import JobRecord
from iqm_async.emulator.faults import FaultPlan
from iqm_async.emulator.queue import JobState
from iqm_async.emulator.server_definition import definition_json
from iqm_async.emulator.server_jobdata import STATION_SOURCE
from iqm_async.jobs import Job
from iqm_async.models import RunRequest
from iqm_async.policies import PollPolicy, RetryPolicy
from iqm_async.results import JobPhase, JobResult

USERNAME = "drill-user"
TOKEN_SECONDS = 2.0
PASSWORD = "drill-password-4711"
SUBMIT_ROUTES = {"cocos": "POST /jobs", "iqm-server": "POST /api/v1/jobs/{qc}/circuit"}
"""The submit route of each API, as the emulator's statistics name it (a route template)."""
V1_SUBMIT = SUBMIT_ROUTES["cocos"]
RESULT_TIMEOUT_S = 60.0
REWAITS = 3
"""Waits of one job at most: a wait may end on a non-transient fault (e.g. the auth server
refusing several times in a row); the handle is then waited for again."""


def drill_config(seed: int) -> EmulatorConfig:
    """The issue's faults, with instant parallel jobs so that the drill stays bounded."""
    return EmulatorConfig(
        seed=seed,
        parallel=True,
        job_seconds=0.0,
        require_auth=True,
        token_seconds=TOKEN_SECONDS,
        username=USERNAME,
        password=PASSWORD,
        fail_rate=0.20,
        throttle_rate=0.05,
        retry_after_s=0.05,
        drop_rate=0.02,
        latency_ms=1.0,
        latency_spike_rate=0.01,
        latency_spike_ms=100.0,
        job_fail_rate=0.05,
    )


DRILL_RETRY = RetryPolicy(initial_backoff_s=0.02, max_backoff_s=0.2)
DRILL_POLL = PollPolicy(max_polls_per_s=2000.0)


@contextmanager
def drill_credentials(api: str, url: str, tmp_path: pathlib.Path) -> Iterator[dict[str, Any]]:
    """The client arguments that pick ``api`` and log in to the faulty emulator.

    V1: password login at the emulator's auth server (the client refreshes its tokens). The
    IQM Server API has no password login: a token manager keeps a tokens file fresh, through
    the same faulty auth server, while the block runs.
    """
    if api == "cocos":
        yield {
            **api_options(api),
            "auth_server_url": url,
            "username": USERNAME,
            "password": PASSWORD,
        }
        return
    with TokensFileTool(
        url, tmp_path / "tokens.json", username=USERNAME, password=PASSWORD
    ) as tool:
        yield {**api_options(api), "tokens_file": str(tool.path)}


def tokens_renewed(stats: Mapping[str, Any]) -> int:
    """Access tokens the emulator's auth server issued (to the client or the token tool)."""
    return int(stats["token_requests"]["refresh_token"] + stats["token_requests"]["password"])


def failure_message(api: str, record: JobRecord) -> str | None:
    """The message a failed job's error must carry: V1 reports the emulator's message as is;
    the IQM Server API reports its JobData ``errors`` entry as ``source: code: message``."""
    if api == "cocos" or record.message is None:
        return record.message
    code = "compilation_failed" if record.times.fails_at_compile else "execution_failed"
    return f"{STATION_SOURCE}: {code}: {record.message}"


def refused_tokens(found: list[errors.IQMError]) -> list[errors.IQMError]:
    """The 401s among errors: a client that keeps its tokens fresh never surfaces one."""
    return [e for e in found if isinstance(e, errors.UnauthorizedError)]


# --- accounting (no I/O) --------------------------------------------------------------------


@dataclass
class SubmitLedger:
    """What the caller learnt from its submits.

    Attributes:
        known_ids: job ids the client returned.
        uncertain: SubmissionUncertainErrors received.
        unsubmitted_names: names of the circuits the caller was told may not have been
            submitted (those of uncertain submits; for the backend, circuits left without
            a handle by a PartialSubmissionError).
        other_errors: the other typed errors of submits (e.g. 429 five times in a row).
    """

    known_ids: set[str] = field(default_factory=set)
    uncertain: int = 0
    unsubmitted_names: set[str] = field(default_factory=set)
    other_errors: list[errors.IQMError] = field(default_factory=list)


def unheard_jobs_problems(
    ledger: SubmitLedger,
    stats: Mapping[str, Any],
    names_by_job: Mapping[str, set[str]],
    submit_route: str,
) -> list[str]:
    """Why the emulator's jobs do not match what the caller learnt (empty: they match).

    Args:
        ledger: the caller's submit outcomes.
        stats: ``Emulator.stats()`` after the run.
        names_by_job: circuit names of every job the emulator created, by job id.
        submit_route: the route the caller submitted on (a key of ``SUBMIT_ROUTES``' values).
    """
    problems = []
    submit_faults: Mapping[str, int] = stats["faults_by_route"].get(submit_route, {})
    unheard = {job_id for job_id in names_by_job if job_id not in ledger.known_ids}
    if stats["duplicate_submissions"]:
        problems.append(f"{stats['duplicate_submissions']} duplicate submissions")
    if stats["jobs_created"] != len(names_by_job):
        problems.append(f"jobs_created {stats['jobs_created']} != {len(names_by_job)} records")
    if ledger.known_ids - set(names_by_job):
        problems.append(
            f"ids the server never made: {sorted(ledger.known_ids - set(names_by_job))}"
        )
    created_unheard = submit_faults.get("drop 201", 0)
    if len(unheard) != created_unheard:
        problems.append(f"{len(unheard)} unheard jobs but {created_unheard} dropped 201 answers")
    for job_id in sorted(unheard):
        if not names_by_job[job_id] <= ledger.unsubmitted_names:
            problems.append(f"job {job_id} was created, but its submit was not reported uncertain")
    may_be_uncertain = submit_faults.get("500", 0) + submit_faults.get("502", 0)
    may_be_uncertain += sum(n for kind, n in submit_faults.items() if kind.startswith("drop"))
    if ledger.uncertain != may_be_uncertain:
        problems.append(
            f"{ledger.uncertain} SubmissionUncertainErrors, but {may_be_uncertain} "
            f"submits got a 500/502 or a dropped connection ({submit_faults})"
        )
    return problems


@pytest.mark.parametrize("api", APIS)
def test_ledger_matches_dropped_created_jobs(api: str) -> None:
    """Faults on the submit route of the API in use count; those of other routes do not."""
    ledger = SubmitLedger(known_ids={"a"}, uncertain=2, unsubmitted_names={"c-2", "c-3"})
    other_api = next(route for name, route in SUBMIT_ROUTES.items() if name != api)
    stats = {
        "duplicate_submissions": 0,
        "jobs_created": 2,
        "faults_by_route": {
            SUBMIT_ROUTES[api]: {"drop 201": 1, "502": 1, "503": 4},
            other_api: {"drop 201": 3, "500": 2},
            "GET /jobs/{job_id}/status": {"500": 7},
        },
    }
    names = {"a": {"c-1"}, "b": {"c-2"}}
    assert unheard_jobs_problems(ledger, stats, names, SUBMIT_ROUTES[api]) == []
    assert unheard_jobs_problems(ledger, stats, names, other_api) != []


def test_ledger_finds_a_job_nobody_was_told_about() -> None:
    ledger = SubmitLedger(known_ids={"a"}, uncertain=1, unsubmitted_names={"c-3"})
    stats = {
        "duplicate_submissions": 1,
        "jobs_created": 2,
        "faults_by_route": {V1_SUBMIT: {"drop 201": 1}},
    }
    problems = unheard_jobs_problems(ledger, stats, {"a": {"c-1"}, "b": {"c-2"}}, V1_SUBMIT)
    assert any("duplicate" in p for p in problems)
    assert any("job b was created" in p for p in problems)


def test_ledger_counts_uncertain_errors_exactly() -> None:
    ledger = SubmitLedger(known_ids={"a"}, uncertain=1, unsubmitted_names={"c-2"})
    stats = {
        "duplicate_submissions": 0,
        "jobs_created": 1,
        "faults_by_route": {V1_SUBMIT: {"500": 1, "drop 401": 1}},
    }
    problems = unheard_jobs_problems(ledger, stats, {"a": {"c-1"}}, V1_SUBMIT)
    assert problems == [
        "1 SubmissionUncertainErrors, but 2 submits got a 500/502 or a dropped connection "
        "({'500': 1, 'drop 401': 1})"
    ]


def test_latency_spikes_hit_their_share_of_requests() -> None:
    config = EmulatorConfig(latency_ms=1.0, latency_spike_rate=0.1, latency_spike_ms=100.0)
    plan = FaultPlan(config, random.Random(3))
    delays = [plan.latency() for _ in range(10_000)]
    spikes = [d for d in delays if d > 0.01]
    assert abs(len(spikes) / len(delays) - 0.1) < 0.015
    assert min(spikes) >= 0.05 and max(spikes) <= 0.152
    assert plan.active and FaultPlan(config, random.Random(3)).draw() is None


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_faults_are_counted_per_route_with_the_dropped_status() -> None:
    app = create_app(EmulatorConfig(seed=3, parallel=True, job_seconds=0.0, drop_rate=1.0))
    emulator: Emulator = app.state.emulator
    circuit = bit_circuit(0).model_dump(mode="json")
    body = {
        "circuits": [circuit],
        "shots": 1,
        "qubit_mapping": [{"logical_name": "q0", "physical_name": "QB1"}],
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator"
    ) as http:
        for payload in (body, {"shots": 1}):  # created, then refused (400)
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/jobs", json=payload)
        emulator.faults = FaultPlan(EmulatorConfig(fail_rate=1.0), random.Random(1))
        for _ in range(6):
            assert (await http.get("/quantum-architecture")).status_code >= 500
    by_route = emulator.stats()["faults_by_route"]
    assert by_route[V1_SUBMIT] == {"drop 201": 1, "drop 400": 1}
    assert sum(by_route["GET /quantum-architecture"].values()) == 6
    assert set(by_route["GET /quantum-architecture"]) <= {"500", "502", "503"}
    emulator.reset_stats()
    assert emulator.stats()["faults_by_route"] == {}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_server_api_faults_are_counted_per_route_template() -> None:
    """The IQM Server API's routes are counted by template too: a drop by the route that ran,
    an error by the route that would have run (the job id and computer are not in the key)."""
    app = create_app(EmulatorConfig(seed=3, parallel=True, job_seconds=0.0, drop_rate=1.0))
    emulator: Emulator = app.state.emulator
    request = RunRequest(
        circuits=[bit_circuit(0)],
        shots=1,
        qubit_mapping=[{"logical_name": "q0", "physical_name": "QB1"}],
    )
    submit_path = "/api/v1/jobs/garnet/circuit"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator"
    ) as http:
        for payload in (definition_json(request), b'{"shots": 1}'):  # created, then refused
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(submit_path, content=payload)
        (job_id,) = emulator.jobs
        emulator.faults = FaultPlan(EmulatorConfig(fail_rate=1.0), random.Random(1))
        for _ in range(4):
            assert (await http.get(f"/api/v1/jobs/{job_id}")).status_code >= 500
    by_route = emulator.stats()["faults_by_route"]
    assert by_route == {
        SUBMIT_ROUTES["iqm-server"]: {"drop 201": 1, "drop 400": 1},
        "GET /api/v1/jobs/{job_id}": by_route["GET /api/v1/jobs/{job_id}"],
    }
    assert sum(by_route["GET /api/v1/jobs/{job_id}"].values()) == 4


# --- the client drill -----------------------------------------------------------------------


@dataclass
class JobOutcome:
    """How one submitted job ended for the caller."""

    job: Job
    result: JobResult | None = None
    error: errors.IQMError | None = None
    waits: int = 0
    wait_faults: list[errors.IQMError] = field(default_factory=list)


async def wait_out(client: AsyncIQMClient, outcome: JobOutcome) -> None:
    """Wait for the job; after a wait that ended on a fault, wait again on its id."""
    while outcome.waits < REWAITS:
        outcome.waits += 1
        try:
            outcome.result = await client.job(outcome.job.id).result(timeout=RESULT_TIMEOUT_S)
            return
        except (errors.JobFailedError, errors.JobAbortedError) as exc:
            outcome.error = exc
            return
        except errors.IQMError as exc:
            outcome.wait_faults.append(exc)
    outcome.error = outcome.wait_faults[-1]


def names_by_job(emulator: Emulator) -> dict[str, set[str]]:
    return {
        job_id: {c.name for c in record.request.circuits}
        for job_id, record in list(emulator.jobs.items())
    }


def check_client_outcome(
    api: str, emulator: Emulator, index: int, outcome: JobOutcome
) -> str | None:
    """Why the job's outcome disagrees with the emulator's record (``None``: it agrees)."""
    record = emulator.job_record(outcome.job.id)
    if record is None:
        return f"job {outcome.job.id} (circuit {index}) is unknown to the emulator"
    if {c.name for c in record.request.circuits} != {f"job-{index}"}:
        return f"job {outcome.job.id} holds another circuit"
    status = emulator.status(record)
    if outcome.result is not None:
        expected = [{"m": [[index % 2]] * record.request.shots}]
        phase = outcome.result.status.phase
        if phase is not JobPhase.COMPLETED or status is not JobState.READY:
            return f"job {record.job_id}: result {phase}, emulator {status}"
        if outcome.result.job_id != record.job_id:
            return f"job {record.job_id}: result names job {outcome.result.job_id}"
        if outcome.result.measurements != record.measurements:
            return f"job {record.job_id}: measurements differ from the emulator's record"
        if outcome.result.measurements != expected:
            return f"job {record.job_id}: measurements are not the circuit's"
        return None
    if isinstance(outcome.error, errors.JobFailedError):
        expected_message = failure_message(api, record)
        if status is not JobState.FAILED or outcome.error.server_message != expected_message:
            return (
                f"job {record.job_id} reported failed ({outcome.error.server_message!r}); "
                f"emulator: {status} {expected_message!r}"
            )
        return None
    return f"job {record.job_id} ended without an outcome: {outcome.error!r}"


CLIENT_DRILL_JOBS = {"cocos": 2000, "iqm-server": 1000}
"""Jobs per API. Half on the second API keeps the suite's time down; 1,000 jobs still see
~20 dropped-after-create submits, ~40 failed jobs and a run of several token lifetimes."""


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("api", APIS)
async def test_client_drill(
    api: str,
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
    tmp_path: pathlib.Path,
) -> None:
    live = live_emulator_factory(drill_config(seed=901))
    count = CLIENT_DRILL_JOBS[api]
    submit_route = SUBMIT_ROUTES[api]
    ledger = SubmitLedger()
    outcomes: dict[int, JobOutcome] = {}
    started = time.perf_counter()
    with drill_credentials(api, live.url, tmp_path) as credentials:
        async with AsyncIQMClient(
            live.url, retry=DRILL_RETRY, poll=DRILL_POLL, max_connections=16, **credentials
        ) as client:
            await run_client_drill(client, count, ledger, outcomes)
            requests = client.requests_by_kind
    elapsed = time.perf_counter() - started
    stats = live.emulator.stats()

    problems = [check_client_outcome(api, live.emulator, i, o) for i, o in sorted(outcomes.items())]
    assert [p for p in problems if p] == []
    assert len(outcomes) == len(ledger.known_ids)  # one id per submit, none shared
    assert len(outcomes) + ledger.uncertain + len(ledger.other_errors) == count
    assert unheard_jobs_problems(ledger, stats, names_by_job(live.emulator), submit_route) == []
    wait_faults = [f for o in outcomes.values() for f in o.wait_faults]
    assert refused_tokens(ledger.other_errors + wait_faults) == []
    # The drill must really have been under fire, on submits and on waits.
    injected = stats["faults_injected"]
    assert injected["5xx"] > 0.15 * stats["requests_total"]
    assert injected["429"] > 0.03 * stats["requests_total"]
    assert injected["drop"] > 0.01 * stats["requests_total"]
    assert stats["faults_by_route"][submit_route].get("drop 201", 0) > 0
    assert sum(isinstance(o.error, errors.JobFailedError) for o in outcomes.values()) > 0
    # Tokens were renewed several times during the run, so the client had to pick up new
    # ones (V1: it refreshed them itself; IQM Server API: it re-read the rewritten file).
    assert tokens_renewed(stats) >= 5
    assert elapsed > 2 * TOKEN_SECONDS
    print(
        drill_summary(
            f"client, {api}",
            count,
            elapsed,
            stats,
            outcomes.values(),
            ledger,
            submit_route,
            requests,
        )
    )


# --- the trickle and restart drill -----------------------------------------------------------

RESTART_DRILL_JOBS = 400
RESTART_DOWNTIME_S = 0.5


def restart_drill_config(seed: int) -> EmulatorConfig:
    """The drill's faults without auth, plus trickled answers (a byte per 20 ms for at least
    5 s: far past the client's 1.5 s request deadline)."""
    return EmulatorConfig(
        seed=seed,
        parallel=True,
        job_seconds=0.0,
        fail_rate=0.10,
        throttle_rate=0.03,
        retry_after_s=0.05,
        drop_rate=0.02,
        trickle_rate=0.03,
        trickle_gap_ms=20.0,
        trickle_s=5.0,
        latency_ms=1.0,
        job_fail_rate=0.05,
    )


class RestartableServer:
    """One emulator served by uvicorn on one fixed loopback port, in a thread; it can be
    killed (every connection aborted, nothing answered any more) and started again on the
    same port with the same job store, as a real server restarted by its operator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(emulator=self.emulator),
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="drill-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10.0
        while not server.started:
            assert thread.is_alive(), "the drill server stopped while starting"
            assert time.monotonic() < deadline, "the drill server did not start in 10 s"
            time.sleep(0.005)
        self._server, self._thread = server, thread

    def kill(self) -> None:
        """Abort every open connection at once (no answer finishes), then stop serving."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        for connection in list(server.server_state.connections):
            # The connections belong to the server thread's event loop.
            connection.loop.call_soon_threadsafe(connection.transport.abort)  # type: ignore[attr-defined]
        server.should_exit = server.force_exit = True
        thread.join(10.0)
        self._server = self._thread = None


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("api", APIS)
async def test_client_drill_with_trickles_and_a_restart(api: str) -> None:
    emulator = Emulator(restart_drill_config(seed=916))
    server = RestartableServer(emulator)
    count = RESTART_DRILL_JOBS
    ledger = SubmitLedger()
    outcomes: dict[int, JobOutcome] = {}
    created_at_kill = 0
    started = time.perf_counter()

    async def kill_and_restart() -> None:
        nonlocal created_at_kill
        with anyio.fail_after(60):
            while len(emulator.jobs) < count // 3:  # noqa: ASYNC110 - no event for this
                await anyio.sleep(0.01)
        await anyio.to_thread.run_sync(server.kill)
        created_at_kill = len(emulator.jobs)
        await anyio.sleep(RESTART_DOWNTIME_S)
        await anyio.to_thread.run_sync(server.start)

    await anyio.to_thread.run_sync(server.start)
    try:
        async with (
            AsyncIQMClient(
                server.url,
                retry=DRILL_RETRY,
                poll=DRILL_POLL,
                max_connections=16,
                timeout=1.5,
                **api_options(api),
            ) as client,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(kill_and_restart)
            await run_client_drill(client, count, ledger, outcomes)
            requests = client.requests_by_kind
    finally:
        await anyio.to_thread.run_sync(server.kill)
    elapsed = time.perf_counter() - started
    stats = emulator.stats()
    submit_route = SUBMIT_ROUTES[api]
    submit_faults: Mapping[str, int] = stats["faults_by_route"].get(submit_route, {})

    problems = [check_client_outcome(api, emulator, i, o) for i, o in sorted(outcomes.items())]
    assert [p for p in problems if p] == []  # each known job: its result or its failure
    assert len(outcomes) == len(ledger.known_ids)  # one id per submit, none shared
    assert len(outcomes) + ledger.uncertain + len(ledger.other_errors) == count
    assert stats["duplicate_submissions"] == 0
    names = names_by_job(emulator)
    assert ledger.known_ids <= set(names)
    unheard = {job_id for job_id in names if job_id not in ledger.known_ids}
    assert all(names[job_id] <= ledger.unsubmitted_names for job_id in unheard)
    # A trickled submit created its job and was reported uncertain, never resent.
    assert len(unheard) >= submit_faults.get("trickle 201", 0) + submit_faults.get("drop 201", 0)
    assert ledger.uncertain >= submit_faults.get("trickle 201", 0) > 0
    assert stats["faults_injected"]["trickle"] > 0
    # The server really went down mid-run and came back.
    assert 0 < created_at_kill < stats["jobs_created"]
    print(
        drill_summary(
            f"trickle + restart, {api}",
            count,
            elapsed,
            stats,
            outcomes.values(),
            ledger,
            submit_route,
            requests,
        )
        + f"; server killed after {created_at_kill} jobs, down {RESTART_DOWNTIME_S} s"
    )


async def run_client_drill(
    client: AsyncIQMClient,
    count: int,
    ledger: SubmitLedger,
    outcomes: dict[int, JobOutcome],
) -> None:
    """Submit ``count`` one-circuit jobs at once and wait for each; fills in the ledger and
    the outcomes by circuit index."""

    async def run_one(index: int) -> None:
        circuit = bit_circuit(index)
        try:
            job = await client.submit(circuit, shots=4, qubit_mapping={"q0": f"QB{index % 20 + 1}"})
        except errors.SubmissionUncertainError:
            ledger.uncertain += 1
            ledger.unsubmitted_names.add(circuit.name)
            return
        except errors.IQMError as exc:
            ledger.other_errors.append(exc)
            return
        ledger.known_ids.add(job.id)
        outcomes[index] = outcome = JobOutcome(job)
        await wait_out(client, outcome)

    async with anyio.create_task_group() as tg:
        for index in range(count):
            tg.start_soon(run_one, index)


def drill_summary(
    name: str,
    count: int,
    elapsed: float,
    stats: Mapping[str, Any],
    outcomes: Any,
    ledger: SubmitLedger,
    submit_route: str,
    requests: Mapping[str, int] | None = None,
) -> str:
    ended = Counter("result" if o.result is not None else type(o.error).__name__ for o in outcomes)
    rewaited = Counter(type(f).__name__ for o in outcomes for f in o.wait_faults)
    return (
        f"\n[{name} drill] {count} submits in {elapsed:.1f} s: {dict(ended)}, "
        f"{ledger.uncertain} SubmissionUncertainError, other submit errors "
        f"{Counter(type(e).__name__ for e in ledger.other_errors)}, waits ended by a fault "
        f"(waited again) {dict(rewaited)}; "
        f"server: {stats['requests_total']} requests, faults {stats['faults_injected']}, "
        f"submit faults {stats['faults_by_route'].get(submit_route)}, jobs created "
        f"{stats['jobs_created']}, duplicates {stats['duplicate_submissions']}, tokens "
        f"{stats['token_requests']}; client requests {dict(requests or {})}"
    )


# --- the backend drill ----------------------------------------------------------------------

BACKEND_CIRCUITS = 500
QUBIT_PAIRS = 5


def native_circuit(index: int) -> tuple[Circuit, list[int]]:
    """Two device qubits, X on each whose bit of ``index // 5`` is set, both measured.

    Returns the circuit and the bits every shot must read. The pair of qubits depends on
    ``index % 5``, so circuits land in five groups the backend packs into jobs.
    """
    pair = index % QUBIT_PAIRS
    bits = [(index // QUBIT_PAIRS) >> k & 1 for k in (0, 1)]
    circuit = Circuit(name=f"bc-{index}")
    nodes = [Node(2 * pair), Node(2 * pair + 1)]
    for node in nodes:
        circuit.add_qubit(node)
    for k in range(2):
        circuit.add_bit(Bit(k))
    for node, bit in zip(nodes, bits, strict=True):
        if bit:
            circuit.PhasedX(1.0, 0.0, node)
    for k, node in enumerate(nodes):
        circuit.Measure(node, Bit(k))
    return circuit, bits


def call_with_retries(action: Callable[[], Any], faults: list[errors.IQMError]) -> Any:
    """Run a backend call, again after a typed fault (at most 5 times); job outcomes and
    partial submissions are the caller's to handle."""
    for _ in range(4):
        try:
            return action()
        except (errors.JobFailedError, errors.JobAbortedError, errors.PartialSubmissionError):
            raise
        except errors.IQMError as exc:
            faults.append(exc)
    return action()


@pytest.mark.parametrize("api", APIS)
def test_backend_drill_500_circuits(
    api: str,
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
    tmp_path: pathlib.Path,
) -> None:
    live = live_emulator_factory(drill_config(seed=902))
    emulator = live.emulator
    circuits = [native_circuit(i) for i in range(BACKEND_CIRCUITS)]
    ledger = SubmitLedger()
    faults: list[errors.IQMError] = []
    outcomes: dict[str, errors.IQMError | None] = {}  # job id -> None (results) or its error
    started = time.perf_counter()
    with (
        drill_credentials(api, live.url, tmp_path) as credentials,
        IQMBackend(
            live.url,
            auth_server_url=credentials.pop("auth_server_url", None),
            username=credentials.pop("username", None),
            password=credentials.pop("password", None),
            tokens_file=credentials.pop("tokens_file", None),
            batch_size=2,
            progress=False,
            client_options={
                "retry": DRILL_RETRY,
                "poll": DRILL_POLL,
                "max_connections": 16,
                **credentials,  # the API to speak
            },
        ) as backend,
    ):
        # The architecture GET is not retried on a 500 (policy): the caller tries again.
        call_with_retries(lambda: backend.backend_info, faults)
        try:
            handles = backend.process_circuits([c for c, _ in circuits], n_shots=3)
        except errors.PartialSubmissionError as exc:
            handles = exc.handles
            for error in exc.errors:
                if isinstance(error, errors.SubmissionUncertainError):
                    ledger.uncertain += 1
                else:
                    ledger.other_errors.append(error)
        submitted = [h for h in handles if h is not None]
        ledger.known_ids = {str(h[0]) for h in submitted}
        pending = list(submitted)
        results: dict[ResultHandle, Any] = {}
        while pending:
            wanted = list(pending)
            try:
                got = call_with_retries(partial(backend.get_results, wanted, timeout=60), faults)
            except errors.JobFailedError as exc:
                outcomes[str(exc.job_id)] = exc
                pending = [h for h in pending if h[0] != exc.job_id]
                continue
            results.update(zip(pending, got, strict=True))
            pending = []
    elapsed = time.perf_counter() - started
    stats = emulator.stats()

    ledger.unsubmitted_names = {f"bc-{i}" for i, h in enumerate(handles) if h is None}
    assert unheard_jobs_problems(ledger, stats, names_by_job(emulator), SUBMIT_ROUTES[api]) == []
    assert refused_tokens(ledger.other_errors + faults) == []

    for index, handle in enumerate(handles):
        if handle is None:
            continue
        job_id, position = str(handle[0]), int(handle[1])
        record = emulator.job_record(job_id)
        assert record is not None
        assert record.request.circuits[position].name == f"bc-{index}"
        if handle in results:
            expected = [circuits[index][1]] * 3
            from_record = to_backend_result(
                record.measurements[position],  # type: ignore[index]
                json.loads(str(handle[2])),
                json.loads(str(handle[3])),
            )
            shots = results[handle].get_shots().tolist()
            assert shots == from_record.get_shots().tolist() == expected
        else:
            error = outcomes[job_id]
            assert isinstance(error, errors.JobFailedError)
            assert emulator.status(record) is JobState.FAILED
            assert error.server_message == failure_message(api, record)
    assert all(h in results or str(h[0]) in outcomes for h in submitted)  # no handle lost
    assert outcomes and results
    failed_jobs = len(outcomes)
    print(
        f"\n[backend drill, {api}] {BACKEND_CIRCUITS} circuits in {elapsed:.1f} s: "
        f"{len(results)} results, {len(submitted) - len(results)} circuits in "
        f"{failed_jobs} failed jobs, {BACKEND_CIRCUITS - len(submitted)} not submitted "
        f"({ledger.uncertain} uncertain submits, other "
        f"{Counter(type(e).__name__ for e in ledger.other_errors)}); retried calls after "
        f"{Counter(type(f).__name__ for f in faults)}; server: {stats['requests_total']} "
        f"requests, faults {stats['faults_injected']}, jobs created {stats['jobs_created']}, "
        f"duplicates {stats['duplicate_submissions']}"
    )
