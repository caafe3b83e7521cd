"""Invariant 4: any reply, however malformed, is an InvalidResponseError (a submit reply that
cannot be read: SubmissionUncertainError), never a foreign exception and never data returned
as valid; on both server APIs (respx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from pytket.circuit import Circuit
from respx_fixtures import FAST_POLL, FAST_RETRY, MOCK_API_URL

from iqm_async import AsyncIQMClient
from iqm_async.api import CocosV1, IQMServerV1
from iqm_async.backend import IQMBackend
from iqm_async.emulator.architectures import load_architecture
from iqm_async.errors import (
    InvalidResponseError,
    PartialSubmissionError,
    SubmissionUncertainError,
)
from iqm_async.models import Circuit as IQMCircuit

JOB = "0b8e6a53-6a3f-4d0e-8f55-0c4f1e9d2a71"
JOB2 = "5d1c3f1e-9a7b-4c5d-8e2f-1a2b3c4d5e6f"
METADATA = {"request": {"shots": 2, "circuits": []}}
BELL = IQMCircuit.model_validate(
    {
        "name": "bell",
        "instructions": [
            {"name": "prx", "qubits": ["QB1"], "args": {"angle_t": 0.25, "phase_t": 0.0}},
            {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}},
        ],
    }
)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


class Server:
    """The routes of one API variant, and its reply bodies."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.options: dict[str, Any] = (
            {"api": "cocos"}
            if name == "cocos"
            else {"api": "iqm-server", "quantum_computer": "garnet"}
        )

    def submit_path(self) -> str:
        return "/jobs" if self.name == "cocos" else "/api/v1/jobs/garnet/circuit"

    def submit_reply(self, job_id: object) -> dict[str, Any]:
        if self.name == "cocos":
            return {"id": job_id}
        return {"id": job_id, "type": "circuit", "status": "completed"}

    def mock_job(self, router: respx.MockRouter, job_id: str, measurements: bytes) -> None:
        """A finished job whose measurements are ``measurements`` (raw JSON bytes)."""
        if self.name == "cocos":
            router.get(f"/jobs/{job_id}/status").respond(json={"status": "ready"})
            body = (
                b'{"status":"ready","measurements":'
                + measurements
                + b',"metadata":'
                + json.dumps(METADATA).encode()
                + b"}"
            )
            router.get(f"/jobs/{job_id}").respond(content=body)
        else:
            router.get(f"/api/v1/jobs/{job_id}").respond(
                json={"id": job_id, "type": "circuit", "status": "completed"}
            )
            router.get(f"/api/v1/jobs/{job_id}/artifacts/measurements").respond(
                content=measurements
            )

    def mock_architecture(self, router: respx.MockRouter) -> None:
        dqa = load_architecture("garnet").dqa_json
        if self.name == "cocos":
            router.get("/api/v1/calibration/default/gates").respond(content=dqa)
        else:
            path = "/api/v1/calibration-sets/garnet/default/dynamic-quantum-architecture"
            router.get(path).respond(content=dqa)
        # A server that publishes no quality metrics (placement then counts CZs).
        router.get(path__regex=r".*metrics.*").respond(404, json={"detail": "Not Found"})


@pytest.fixture(params=["cocos", "iqm-server"])
def server(request: pytest.FixtureRequest) -> Server:
    return Server(str(request.param))


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=MOCK_API_URL, assert_all_called=False) as mocked:
        yield mocked


def client(server: Server) -> AsyncIQMClient:
    return AsyncIQMClient(MOCK_API_URL, retry=FAST_RETRY, poll=FAST_POLL, **server.options)


BAD_MEASUREMENTS = [
    pytest.param(b'[{"m":[[2],[0]]}]', r"(less than or equal to 1)", id="2"),
    pytest.param(b'[{"m":[[-1],[0]]}]', r"(greater than or equal to 0)", id="-1"),
    pytest.param(b'[{"m":[[true],[0]]}]', r"(valid integer)", id="true"),
    pytest.param(b'[{"m":[[0.5],[0]]}]', r"(valid integer)", id="0.5"),
    pytest.param(b'[{"m":[[1.0],[0]]}]', r"(valid integer)", id="1.0"),
    pytest.param(b'[{"m":[["1"],[0]]}]', r"(valid integer)", id="string 1"),
    pytest.param(b'[{"m":[[100000000000000000000000000000],[0]]}]', r"(less than)", id="huge"),
    pytest.param(b'[{"m":[[0,1],[0]]}]', r"not a list of shots of 0/1 bits of equal", id="ragged"),
    pytest.param(b'[{"m":[[],[]]}]', r"not a list of shots of 0/1 bits of equal", id="no bits"),
    pytest.param(
        b'[{"a":[[0],[1]],"b":[[1]]}]', r"different numbers of shots per key", id="keys differ"
    ),
    pytest.param(
        b'[{"a":[[0],[1]],"b":[[1]]}, {"a": 1}]', "not what the IQM protocol says", id="not shots"
    ),
    pytest.param(b'[{"\xff":[[0]]}]', r"is not JSON", id="invalid UTF-8"),
    pytest.param(b'{"m":[[0]]}', "not what the IQM protocol says", id="not a list"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, r"is not JSON|not what the IQM", id="deep"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("measurements", "phrase"), BAD_MEASUREMENTS)
async def test_bad_measurements_are_an_invalid_response(
    anyio_backend: str, server: Server, router: respx.MockRouter, measurements: bytes, phrase: str
) -> None:
    server.mock_job(router, JOB, measurements)
    async with client(server) as opened:
        with pytest.raises(InvalidResponseError, match=phrase):
            await opened.job(JOB).result(timeout=10)


@pytest.mark.anyio
async def test_good_measurements_still_read(
    anyio_backend: str, server: Server, router: respx.MockRouter
) -> None:
    server.mock_job(router, JOB, b'[{"a":[[0,1],[1,1]],"b":[[1],[0]]}]')
    async with client(server) as opened:
        result = await opened.job(JOB).result(timeout=10)
    assert result.measurements == [{"a": [[0, 1], [1, 1]], "b": [[1], [0]]}]


@pytest.mark.parametrize("api", [CocosV1(), IQMServerV1("garnet")])
@pytest.mark.parametrize(
    "counts", [{"0": -1}, {"0": True}, {"0": 1.5}, {"0": "3"}], ids=["-1", "true", "1.5", "str"]
)
def test_bad_counts_are_an_invalid_response(api: CocosV1 | IQMServerV1, counts: Any) -> None:
    entry = {"measurement_keys": ["m"], "counts": counts}
    body = {"status": "ready", "counts_batch": [entry]} if api.name == "cocos" else [entry]
    reply = httpx.Response(200, json=body, request=httpx.Request("GET", MOCK_API_URL))
    with pytest.raises(InvalidResponseError, match=r"counts.*not what the IQM protocol says"):
        api.read_counts(JOB, reply)


BAD_SUBMIT_REPLIES = [
    pytest.param(lambda s: s.submit_reply("job-17"), id="id not a UUID"),
    pytest.param(lambda s: s.submit_reply("../../jobs"), id="id a path"),
    pytest.param(lambda s: s.submit_reply(17), id="id a number"),
    pytest.param(lambda s: b'{"id":"\xff"}', id="invalid UTF-8"),
    pytest.param(lambda s: b"OK", id="not JSON"),
    pytest.param(lambda s: b"[" * 100_000 + b"]" * 100_000, id="deep"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("make", BAD_SUBMIT_REPLIES)
async def test_an_unreadable_submit_reply_is_an_uncertain_submission(
    anyio_backend: str, server: Server, router: respx.MockRouter, make: Any
) -> None:
    body = make(server)
    reply = httpx.Response(201, content=body) if isinstance(body, bytes) else None
    route = router.post(server.submit_path())
    route.mock(return_value=reply or httpx.Response(201, json=body))
    async with client(server) as opened:
        with pytest.raises(SubmissionUncertainError, match=r"HTTP 201, but the reply could not"):
            await opened.submit([BELL], shots=2)
        # Nothing was built from the id: the submit was the only request.
        assert opened.request_count == 1
    assert route.call_count == 1  # never resent


def test_the_backend_keeps_the_handles_of_jobs_submitted_before(
    server: Server, router: respx.MockRouter
) -> None:
    server.mock_architecture(router)
    router.post(server.submit_path()).mock(
        side_effect=[
            httpx.Response(201, json=server.submit_reply(JOB)),
            httpx.Response(201, json=server.submit_reply("not-a-uuid")),
        ]
    )
    server.mock_job(router, JOB, b'[{"c[0]":[[1],[1]]}]')
    circuits = [Circuit(1, 1).X(0).measure_all(), Circuit(1, 1).measure_all()]
    options = {**server.options, "retry": FAST_RETRY, "poll": FAST_POLL}
    with IQMBackend(MOCK_API_URL, client_options=options, progress=False) as backend:
        compiled = backend.get_compiled_circuits(circuits)
        with pytest.raises(PartialSubmissionError) as info:
            backend.process_circuits(compiled, n_shots=2, batch_size=1)
        first, second = info.value.handles
        assert first is not None and first[0] == JOB and second is None
        assert isinstance(info.value.errors[0], SubmissionUncertainError)
        # The job that was submitted is still followed: its result arrives.
        assert backend.get_result(first).get_counts() == {(1,): 2}
