"""AsyncIQMClient against exact server replies (respx): retries, errors, waits, caching."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from respx_fixtures import FAST_POLL, FAST_RETRY, MOCK_API_URL

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.jobs import ServerWarning
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import RetryPolicy
from iqm_async.results import CircuitCounts, JobPhase, JobStatus

pytestmark = pytest.mark.anyio

URL = MOCK_API_URL
DATA = Path(__file__).parent / "data"
READY: dict[str, Any] = json.loads((DATA / "run_result_ready.json").read_text())
READY_NO_WARNINGS = {**READY, "warnings": None}
DQA: dict[str, Any] = json.loads((DATA / "dynamic_quantum_architecture.json").read_text())
QA: dict[str, Any] = json.loads((DATA / "quantum_architecture.json").read_text())

BELL = Circuit(
    name="bell",
    instructions=(
        Instruction(name="prx", qubits=("q0",), args={"angle_t": 0.25, "phase_t": 0.25}),
        Instruction(name="cz", qubits=("q0", "q1")),
        Instruction(name="measure", qubits=("q0", "q1"), args={"key": "m"}),
    ),
)


def new_id() -> str:
    return str(uuid.uuid4())


def job_routes(
    mock: respx.MockRouter, statuses: list[Any], result: dict[str, Any] | None = None
) -> tuple[str, respx.Route, respx.Route]:
    """A submit route, a status route answering ``statuses`` in turn (the last repeats) and a
    full-result route."""
    job_id = new_id()
    mock.post("/jobs").respond(200, json={"id": job_id})
    answered = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        reply = statuses[min(answered, len(statuses) - 1)]
        answered += 1
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)
        return _status(reply)

    status_route = mock.get(f"/jobs/{job_id}/status").mock(side_effect=answer)
    result_route = mock.get(f"/jobs/{job_id}").respond(200, json=result or READY_NO_WARNINGS)
    return job_id, status_route, result_route


def _status(value: str) -> httpx.Response:
    return httpx.Response(200, json={"status": value})


# --- retries on reads ---------------------------------------------------------------------------


async def test_503_retry_after_is_honoured(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    route = mock_api.get("/quantum-architecture").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "0.3"}),
            httpx.Response(200, json=QA),
        ]
    )
    started = anyio.current_time()
    qa = await api_client.quantum_architecture()
    assert qa.qubits
    assert route.call_count == 2
    assert anyio.current_time() - started >= 0.3  # not the 0.01 s backoff


async def test_429_is_backed_off_exponentially(mock_api: respx.MockRouter) -> None:
    retry = RetryPolicy(initial_backoff_s=0.1, backoff_multiplier=2, jitter_fraction=0)
    route = mock_api.get("/quantum-architecture").mock(
        side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, json=QA)]
    )
    async with AsyncIQMClient(URL, api="cocos", retry=retry) as client:
        started = anyio.current_time()
        await client.quantum_architecture()
        assert anyio.current_time() - started >= 0.3  # 0.1 + 0.2
    assert route.call_count == 3


async def test_reads_give_up_after_max_attempts(mock_api: respx.MockRouter) -> None:
    route = mock_api.get("/quantum-architecture").respond(502, json={"detail": "proxy down"})
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter_fraction=0)
    async with AsyncIQMClient(URL, api="cocos", retry=retry) as client:
        with pytest.raises(errors.BadGatewayError, match="proxy down") as info:
            await client.quantum_architecture()
    assert route.call_count == 3
    assert info.value.url == f"{URL}/quantum-architecture"


# --- submit: retried only when it cannot have been acted on -------------------------------------


async def test_connect_error_on_submit_is_retried(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id = new_id()
    route = mock_api.post("/jobs").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"id": job_id})]
    )
    job = await api_client.submit(BELL, shots=10)
    assert job.id == job_id
    assert route.call_count == 2


@pytest.mark.parametrize("code", [429, 503])
async def test_refused_submit_is_retried(
    code: int, mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id = new_id()
    route = mock_api.post("/jobs").mock(
        side_effect=[httpx.Response(code), httpx.Response(200, json={"id": job_id})]
    )
    assert (await api_client.submit(BELL, shots=10)).id == job_id
    assert route.call_count == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(500, json={"detail": "oops"}),
        httpx.Response(502),
        httpx.Response(504),
    ],
    ids=["read-timeout", "dropped", "500", "502", "504"],
)
async def test_uncertain_submit_is_never_resent(
    reply: Any, mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    route = mock_api.post("/jobs").mock(
        side_effect=[reply, httpx.Response(200, json={"id": new_id()})]
    )
    with pytest.raises(errors.SubmissionUncertainError, match="may have created the job"):
        await api_client.submit(BELL, shots=10)
    assert route.call_count == 1


async def test_refused_submit_raises_with_server_message(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    route = mock_api.post("/jobs").respond(400, json={"detail": "shots above the account limit"})
    with pytest.raises(errors.BadRequestError, match="shots above the account limit"):
        await api_client.submit(BELL, shots=10)
    assert route.call_count == 1
    mock_api.post("/jobs").respond(422, json={"message": "bad field"})
    with pytest.raises(errors.UnprocessableEntityError, match="bad field"):
        await api_client.submit(BELL, shots=10)


async def test_submit_refused_every_time_raises_the_refusal(mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/jobs").respond(429, headers={"Retry-After": "0"})
    async with AsyncIQMClient(URL, api="cocos", retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(errors.RateLimitError):
            await client.submit(BELL, shots=10)
    assert route.call_count == 2


async def test_submit_without_connection_raises_connect_error(mock_api: respx.MockRouter) -> None:
    route = mock_api.post("/jobs").mock(side_effect=httpx.ConnectError("refused"))
    retry = RetryPolicy(max_attempts=2, initial_backoff_s=0.001)
    async with AsyncIQMClient(URL, api="cocos", retry=retry) as client:
        with pytest.raises(errors.ConnectError, match="Could not connect"):
            await client.submit(BELL, shots=10)
    assert route.call_count == 2


async def test_submit_reply_without_id(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    mock_api.post("/jobs").respond(200, json={"job": "x"})
    with pytest.raises(errors.SubmissionUncertainError, match="no job id"):
        await api_client.submit(BELL, shots=10)


async def test_submit_sends_the_request(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    route = mock_api.post("/jobs").respond(200, json={"id": new_id()})
    calset = uuid.uuid4()
    await api_client.submit(
        [BELL, BELL],
        shots=7,
        qubit_mapping={"q0": "QB1", "q1": "QB2"},
        calibration_set_id=str(calset),
        heralding_mode="zeros",
    )
    body = json.loads(route.calls.last.request.content)
    assert len(body["circuits"]) == 2
    assert body["shots"] == 7
    assert body["calibration_set_id"] == str(calset)
    assert body["heralding_mode"] == "zeros"
    assert body["qubit_mapping"][1] == {"logical_name": "q1", "physical_name": "QB2"}
    assert "custom_settings" not in body  # None fields left out, as iqm-client does


# --- input validated before any request ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shots": 0}, errors.ConfigurationError, "shots"),
        ({"shots": True}, errors.ConfigurationError, "shots"),
        ({"shots": 1.5}, errors.ConfigurationError, "shots"),
        ({"shots": 1, "bogus_option": 1}, errors.ConfigurationError, "bogus_option"),
        ({"shots": 1, "calibration_set_id": "nope"}, errors.ConfigurationError, "UUID"),
        ({"shots": 1, "qubit_mapping": {"q0": "QB1"}}, errors.ConfigurationError, "q1"),
        (
            {"shots": 1, "qubit_mapping": {"q0": "QB1", "q1": "QB1"}},
            errors.ConfigurationError,
            "injective",
        ),
        ({"shots": 1, "heralding_mode": "sometimes"}, errors.ConfigurationError, "heralding"),
    ],
)
async def test_bad_submissions_fail_before_any_request(
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
    mock_api: respx.MockRouter,
    api_client: AsyncIQMClient,
) -> None:
    with pytest.raises(error, match=match):
        await api_client.submit(BELL, **kwargs)
    assert api_client.request_count == 0
    assert not mock_api.calls


async def test_bad_circuits_fail_before_any_request(api_client: AsyncIQMClient) -> None:
    with pytest.raises(errors.CircuitValidationError, match="Circuit 0"):
        await api_client.submit([{"name": "x", "instructions": []}], shots=1)  # type: ignore[list-item]
    with pytest.raises(errors.CircuitValidationError, match="at least one"):
        await api_client.submit([], shots=1)
    assert api_client.request_count == 0


@pytest.mark.parametrize("url", ["iqm.test", "ftp://iqm.test", "https://", "https://u:p@iqm.test"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        AsyncIQMClient(url, api="cocos")


def test_plain_http_warns_except_on_loopback() -> None:
    with pytest.warns(UserWarning, match="unencrypted"):
        AsyncIQMClient("http://iqm.example.com", api="cocos")
    for url in ("http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80"):
        AsyncIQMClient(url, api="cocos")  # no warning (warnings are errors here)


@pytest.mark.parametrize(
    "kwargs", [{"max_connections": 0}, {"timeout": 0}, {"timeout": "1"}, {"max_connections": 1.0}]
)
def test_bad_client_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(errors.ConfigurationError):
        AsyncIQMClient(URL, **kwargs)


# --- lifecycle ----------------------------------------------------------------------------------


async def test_use_before_open_and_after_close_raises(mock_api: respx.MockRouter) -> None:
    client = AsyncIQMClient(URL, api="cocos")
    with pytest.raises(errors.ConfigurationError, match="async with"):
        await client.submit(BELL, shots=1)
    async with client:
        pass
    with pytest.raises(errors.ClientClosedError, match="closed"):
        await client.quantum_architecture()
    with pytest.raises(errors.ClientClosedError, match="closed"):
        async with client:
            pass
    await client.aclose()  # idempotent
    assert not mock_api.calls


async def test_closing_ends_current_waits(mock_api: respx.MockRouter) -> None:
    job_id, _, _ = job_routes(mock_api, ["pending execution"])
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(BELL, shots=1)
        outcome: list[BaseException] = []

        async def waiter() -> None:
            try:
                await job.result()
            except errors.IQMError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.05)
            await client.aclose()
    assert isinstance(outcome[0], errors.ClientClosedError)
    assert job_id in str(outcome[0])


# --- waiting ------------------------------------------------------------------------------------


async def test_instant_job_costs_three_requests(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    _, status_route, result_route = job_routes(mock_api, ["ready"])
    job = await api_client.submit(BELL, shots=4)
    result = await job.result(timeout=5)
    assert result.status.phase is JobPhase.COMPLETED
    assert result.status.raw == "ready"
    assert result.measurements == READY["measurements"]
    assert await job.result() is result  # cached: no new request
    assert api_client.request_count == 3
    assert api_client.requests_by_kind == {"submit": 1, "status": 1, "result": 1}
    assert (status_route.call_count, result_route.call_count) == (1, 1)


async def test_transient_faults_while_waiting_never_reach_the_caller(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    faults = [
        httpx.Response(500),
        httpx.Response(502),
        httpx.ConnectError("down"),
        httpx.ReadTimeout("slow"),
        httpx.Response(503, headers={"Retry-After": "0.01"}),
        httpx.Response(429),
        httpx.RemoteProtocolError("dropped"),
        "pending execution",
        httpx.Response(504),
        "ready",
    ]
    _, status_route, _ = job_routes(mock_api, faults)
    job = await api_client.submit(BELL, shots=4)
    # more faults than RetryPolicy.max_attempts (5): a wait is not bounded by it
    assert (await job.result(timeout=10)).status.phase is JobPhase.COMPLETED
    assert status_route.call_count == len(faults)


async def test_transient_faults_on_the_result_fetch_are_retried(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id, _, _ = job_routes(mock_api, ["ready"])
    mock_api.get(f"/jobs/{job_id}").mock(
        side_effect=[httpx.Response(502)] * 6 + [httpx.Response(200, json=READY_NO_WARNINGS)]
    )
    job = await api_client.submit(BELL, shots=4)
    assert (await job.result(timeout=10)).status.phase is JobPhase.COMPLETED


async def test_failed_job_raises_with_server_message(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    failed = {"status": "failed", "message": "qubit QB3 is not calibrated", "metadata": {}}
    job_id, _, _ = job_routes(mock_api, ["pending compilation", "failed"], failed)
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.JobFailedError, match="QB3 is not calibrated") as info:
        await job.result(timeout=5)
    assert info.value.job_id == job_id
    final = await job.wait()
    assert (final.phase, final.raw) == (JobPhase.FAILED, "failed")
    assert final.message == "qubit QB3 is not calibrated"
    with pytest.raises(errors.JobFailedError):
        await job.counts()


async def test_aborted_job_raises(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    _, _, result_route = job_routes(mock_api, ["aborted"])
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.JobAbortedError, match="aborted"):
        await job.result(timeout=5)
    final = await job.wait()
    assert (final.phase, final.raw) == (JobPhase.CANCELLED, "aborted")
    assert result_route.call_count == 0  # nothing to fetch


async def test_unknown_status_keeps_waiting(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_routes(mock_api, ["validation_started", "something new", "ready"])
    job = await api_client.submit(BELL, shots=4)
    assert (await job.wait(timeout=5)).phase is JobPhase.COMPLETED


async def test_server_warnings_reach_the_caller(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_routes(mock_api, ["ready"], READY)
    job = await api_client.submit(BELL, shots=4)
    with pytest.warns(ServerWarning, match="calibration is 3 days old"):
        result = await job.result(timeout=5)
    assert result.warnings == ("calibration is 3 days old",)
    await job.result()  # warned once only (a second warning would fail this test)


async def test_wait_timeout_names_the_job_and_the_job_goes_on(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id, status_route, _ = job_routes(mock_api, ["pending execution"])
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.JobTimeoutError, match=job_id) as info:
        await job.result(timeout=0.2)
    assert info.value.waited_s == pytest.approx(0.2, abs=0.1)
    assert info.value.last_status == "pending execution"
    status_route.respond(200, json={"status": "ready"})
    assert (await job.result(timeout=5)).status.phase is JobPhase.COMPLETED


async def test_poll_errors_raise_and_a_new_wait_starts_over(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id, status_route, _ = job_routes(mock_api, [httpx.Response(404, json={"detail": "no job"})])
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.NotFoundError, match="no job"):
        await job.result(timeout=5)
    status_route.respond(200, text="<html>login</html>", headers={"content-type": "text/html"})
    with pytest.raises(errors.InvalidResponseError, match=f"jobs/{job_id}/status.*not JSON"):
        await job.result(timeout=5)
    status_route.respond(200, json={"status": "ready"})
    assert (await job.result(timeout=5)).status.phase is JobPhase.COMPLETED


async def test_ready_result_without_measurements_is_invalid(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_routes(mock_api, ["ready"], {"status": "ready", "metadata": {}})
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.InvalidResponseError, match="no measurements"):
        await job.result(timeout=5)


async def test_jobs_nobody_waits_for_are_not_polled(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    _, status_route, _ = job_routes(mock_api, ["pending execution"])
    job = await api_client.submit(BELL, shots=4)
    await anyio.sleep(0.2)
    assert status_route.call_count == 0
    with pytest.raises(errors.JobTimeoutError):
        await job.wait(timeout=0.2)
    await anyio.sleep(0.05)  # a poll started just before the wait ended may still land
    polled = status_route.call_count
    assert polled >= 2
    await anyio.sleep(0.3)
    assert status_route.call_count == polled  # the wait ended, so did the polling


async def test_many_waiters_share_one_poll_schedule(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    _, status_route, result_route = job_routes(mock_api, ["pending execution"] * 5 + ["ready"])
    job = await api_client.submit(BELL, shots=4)
    results = []

    async def waiter() -> None:
        results.append(await job.result(timeout=5))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(waiter)
    assert len(results) == 20 and all(r is results[0] for r in results)
    assert status_route.call_count == 6
    assert result_route.call_count == 1


async def test_status_is_one_request(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    _, status_route, _ = job_routes(mock_api, ["pending execution"])
    job = await api_client.submit(BELL, shots=4)
    assert await job.status() == JobStatus(JobPhase.RUNNING, "pending execution")
    assert status_route.call_count == 1
    assert job.last_status == JobStatus(JobPhase.RUNNING, "pending execution")
    status_route.respond(200, text="not json")
    with pytest.raises(errors.InvalidResponseError, match="not JSON"):
        await job.status()


async def test_counts(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id, _, _ = job_routes(mock_api, ["ready"])
    counts = json.loads((DATA / "run_counts.json").read_text())
    route = mock_api.get(f"/jobs/{job_id}/counts").respond(200, json=counts)
    job = await api_client.submit(BELL, shots=4)
    first = await job.counts()
    assert first == [
        CircuitCounts(tuple(c["measurement_keys"]), c["counts"]) for c in counts["counts_batch"]
    ]
    assert first and first[0].counts
    assert await job.counts() is first
    assert route.call_count == 1


# --- abort and cancellation ---------------------------------------------------------------------


async def test_abort(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id, _, _ = job_routes(mock_api, ["pending execution"])
    route = mock_api.post(f"/jobs/{job_id}/abort").mock(
        side_effect=[httpx.Response(503), httpx.Response(200)]
    )
    job = await api_client.submit(BELL, shots=4)
    await job.abort()
    assert route.call_count == 2  # retried: aborting twice is harmless
    route.side_effect = None
    route.respond(409, json={"detail": "job already finished"})
    with pytest.raises(errors.ConflictError, match="already finished"):
        await job.abort()


async def test_cancel_and_delete(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id, _, _ = job_routes(mock_api, ["pending execution"])
    abort_route = mock_api.post(f"/jobs/{job_id}/abort").respond(200)
    delete_route = mock_api.delete(f"/jobs/{job_id}").respond(200)
    job = await api_client.submit(BELL, shots=4)
    await job.cancel()
    assert abort_route.call_count == 1
    await job.delete()
    assert delete_route.call_count == 1
    assert api_client.requests_by_kind == {"submit": 1, "abort": 1, "delete": 1}
    delete_route.respond(404, json={"detail": "no such job"})
    with pytest.raises(errors.NotFoundError, match="no such job"):
        await job.delete()


@pytest.mark.parametrize(
    ("word", "error", "fetched"),
    [
        ("deletion failed", errors.JobFailedError, 1),  # a failure: its result says why
        ("pending deletion", errors.JobAbortedError, 0),  # being deleted: no results to come
        ("deleted", errors.JobAbortedError, 0),
    ],
)
async def test_deletion_words_end_a_wait(
    word: str,
    error: type[errors.JobError],
    fetched: int,
    mock_api: respx.MockRouter,
    api_client: AsyncIQMClient,
) -> None:
    job_id, _, result_route = job_routes(
        mock_api, ["pending execution", word], {"status": word, "metadata": {}}
    )
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(error, match=word) as info:
        await job.result(timeout=5)
    assert info.value.job_id == job_id
    assert (await job.wait()).raw == word
    assert result_route.call_count == fetched


@pytest.mark.parametrize("abort_on_cancel", [False, True])
async def test_cancelling_a_wait_stops_only_that_wait(
    abort_on_cancel: bool, mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id, status_route, _ = job_routes(mock_api, ["pending execution"])
    abort_route = mock_api.post(f"/jobs/{job_id}/abort").respond(200)
    job = await api_client.submit(BELL, shots=4)
    with anyio.move_on_after(0.2):
        await job.result(abort_on_cancel=abort_on_cancel)
    assert abort_route.call_count == (1 if abort_on_cancel else 0)
    await anyio.sleep(0.1)
    polled = status_route.call_count
    await anyio.sleep(0.2)
    assert status_route.call_count == polled
    assert api_client.polls_in_flight == 0
    # the job goes on and can be waited for again
    status_route.respond(200, json={"status": "ready"})
    assert (await job.result(timeout=5)).status.phase is JobPhase.COMPLETED


# --- several jobs -------------------------------------------------------------------------------


async def test_as_completed_yields_in_completion_order(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    slow_id, slow_status, _ = job_routes(mock_api, ["pending execution"] * 8 + ["ready"])
    slow = await api_client.submit(BELL, shots=4)
    fast_id, _, _ = job_routes(mock_api, ["ready"])
    fast = await api_client.submit(BELL, shots=4)
    order = [job.id async for job in api_client.as_completed([slow, fast], timeout=5)]
    assert order == [fast_id, slow_id]
    assert slow_status.call_count == 9


async def test_as_completed_timeout(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id, _, _ = job_routes(mock_api, ["pending execution"])
    job = await api_client.submit(BELL, shots=4)
    with pytest.raises(errors.JobTimeoutError, match=job_id):
        async for _ in api_client.as_completed([job], timeout=0.1):
            pass


async def test_gather_keeps_order_and_raises_failures(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    jobs = []
    for statuses in (["pending execution", "ready"], ["ready"]):
        job_routes(mock_api, statuses)
        jobs.append(await api_client.submit(BELL, shots=4))
    results = await api_client.gather(jobs, timeout=5)
    assert [r.status.phase for r in results] == [JobPhase.COMPLETED, JobPhase.COMPLETED]
    job_routes(mock_api, ["failed"], {"status": "failed", "message": "boom", "metadata": {}})
    jobs.append(await api_client.submit(BELL, shots=4))
    with pytest.raises(errors.JobFailedError, match="boom"):
        await api_client.gather(jobs, timeout=5)


async def test_reattach_by_id(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id, status_route, _ = job_routes(mock_api, ["ready"])
    job = api_client.job(job_id)
    assert api_client.job(uuid.UUID(job_id)) is job
    assert (await job.result(timeout=5)).status.phase is JobPhase.COMPLETED
    assert status_route.call_count == 1
    with pytest.raises(errors.ConfigurationError, match="UUID"):
        api_client.job("../../etc")


async def test_jobs_of_another_client_are_refused(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    async with AsyncIQMClient(URL, api="cocos") as other:
        job = other.job(new_id())
        with pytest.raises(errors.ConfigurationError, match="another client"):
            await api_client.gather([job])


# --- architecture -------------------------------------------------------------------------------


async def test_dynamic_architecture_is_cached_per_calibration_set(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    default = mock_api.get("/api/v1/calibration/default/gates").respond(200, json=DQA)
    results = []

    async def fetch() -> None:
        results.append(await api_client.dynamic_architecture())

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(fetch)
    assert default.call_count == 1
    calset = results[0].calibration_set_id
    assert await api_client.dynamic_architecture(calset) is results[0]  # cached by its id too
    await api_client.dynamic_architecture(refresh=True)
    assert default.call_count == 2
    other = uuid.uuid4()
    mock_api.get(f"/api/v1/calibration/{other}/gates").respond(
        200, json={**DQA, "calibration_set_id": str(other)}
    )
    assert (await api_client.dynamic_architecture(str(other))).calibration_set_id == other


async def test_invalid_architecture_reply(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    mock_api.get("/quantum-architecture").respond(200, json={"quantum_architecture": {"name": "x"}})
    with pytest.raises(errors.InvalidResponseError, match=r"quantum-architecture.*qubits"):
        await api_client.quantum_architecture()


async def test_401_without_credentials(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    mock_api.get("/quantum-architecture").respond(401, json={"detail": "token required"})
    with pytest.raises(errors.UnauthorizedError, match="token required"):
        await api_client.quantum_architecture()


async def test_resolved_credentials_are_used(mock_api: respx.MockRouter) -> None:
    from iqm_async.auth import resolve_credentials

    route = mock_api.get("/quantum-architecture").respond(200, json=QA)
    credentials = resolve_credentials(token="secret-token-1", env={})
    async with AsyncIQMClient(URL, api="cocos", credentials=credentials) as client:
        await client.quantum_architecture()
    assert route.calls.last.request.headers["authorization"] == "Bearer secret-token-1"
    with pytest.raises(errors.ConfigurationError, match="not both"):
        AsyncIQMClient(URL, api="cocos", credentials=credentials, token="other")


# --- an auth server that is briefly down ---------------------------------------------------------

AUTH_URL = "https://auth.iqm.test"
TOKEN_PATH = "/realms/cortex/protocol/openid-connect/token"


async def test_auth_server_outage_is_transient_for_submits_and_waits(
    mock_api: respx.MockRouter,
) -> None:
    """A token that cannot be fetched means the API request never left: it is retried like a
    connection error, and a wait on a known job rides it out instead of failing."""
    import time

    from test_auth_helpers import make_jwt

    tokens = iter(range(1000))
    outage = {"left": 0}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        if outage["left"] > 0:
            outage["left"] -= 1
            return httpx.Response(503, text="maintenance")
        now = time.time()
        return httpx.Response(
            200,
            json={
                # 1 s tokens: every wait below needs a fresh one.
                "access_token": make_jwt(exp=now + 1, iat=now, n=next(tokens)),
                "refresh_token": make_jwt(exp=now + 3600, iat=now),
            },
        )

    job_id, status_route, _ = job_routes(mock_api, ["pending execution"] * 12 + ["ready"])
    submit_route = mock_api.routes[-3]
    token_route = mock_api.route(method="POST", host="auth.iqm.test", path=TOKEN_PATH).mock(
        side_effect=token_endpoint
    )
    async with AsyncIQMClient(
        URL,
        api="cocos",
        auth_server_url=AUTH_URL,
        username="alice",
        password="pa55-W0rd-never-shown",
        retry=FAST_RETRY,
        poll=FAST_POLL,
    ) as client:
        outage["left"] = 4  # the auth source's own 4 attempts all fail: one outage error
        job = await client.submit(BELL, shots=4)
        assert job.id == job_id
        outage["left"] = 4
        await anyio.sleep(1.0)  # the token expires; the next poll meets the outage
        result = await job.result(timeout=10)
    assert result.status.phase is JobPhase.COMPLETED
    assert submit_route.call_count == 1  # one submit: never resent
    assert token_route.call_count >= 10
    assert status_route.call_count >= 13


def test_auth_server_unavailable_is_a_connect_error() -> None:
    # No token means the API request never left: a ConnectError, not bad credentials.
    exc = errors.AuthServerUnavailableError("down")
    assert isinstance(exc, errors.ConnectError)
    assert isinstance(exc, errors.TransportError)
    assert not isinstance(exc, errors.AuthenticationError | errors.InputError | ValueError)
