"""Bad input gets a typed error that names the problem, before any network call where it can.

Each case asserts the exception type and a phrase of its message. "No request" is proven with
respx routes that must stay uncalled, the client's request counter, or the emulator's counters.
The table in docs/bad_input.md lists these cases and the errors users see.

Tests run as root in CI, and root reads a chmod-000 file, so the real "unreadable tokens
file" case is skipped there; a simulated permission error covers it everywhere.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from emulator_fixtures import LiveEmulator
from pytket.circuit import Bit, Circuit, Node, OpType
from sympy import Symbol
from test_auth_helpers import make_jwt

from iqm_async import errors
from iqm_async.auth import _sources as _auth_sources
from iqm_async.backend import IQMBackend
from iqm_async.client import AsyncIQMClient
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.models import Circuit as IQMCircuit
from iqm_async.models import Instruction
from iqm_async.policies import PollPolicy, RetryPolicy
from iqm_async.results import JobPhase

URL = "https://iqm.test"
ASGI_URL = "http://emulator"
PASSWORD = "bad-input-password-31"
FAST_RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.001, jitter_fraction=0)
FAST_POLL = PollPolicy(initial_interval_s=0.01, max_interval_s=0.02, max_polls_per_s=1000)


def prx(qubit: str) -> Instruction:
    return Instruction(name="prx", qubits=(qubit,), args={"angle_t": 0.25, "phase_t": 0.0})


def measure(*qubits: str, key: str = "m") -> Instruction:
    return Instruction(name="measure", qubits=qubits, args={"key": key})


def circuit(*instructions: Instruction, name: str = "c") -> IQMCircuit:
    return IQMCircuit(name=name, instructions=instructions)


BELL = circuit(prx("q0"), Instruction(name="cz", qubits=("q0", "q1")), measure("q0", "q1"))


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


@pytest.fixture
def no_network() -> Iterator[respx.MockRouter]:
    """A respx router with no routes: any request that goes out fails the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
async def offline_client(no_network: respx.MockRouter) -> AsyncIterator[AsyncIQMClient]:
    async with AsyncIQMClient(URL, api="cocos", retry=FAST_RETRY, poll=FAST_POLL) as client:
        yield client
    assert client.request_count == 0
    assert not no_network.calls


# --- circuits and submit options to AsyncIQMClient: refused before any request -----------------


def _raw(**fields: Any) -> dict[str, Any]:
    return {"name": "raw", **fields}


SUBMIT_CASES: list[tuple[str, Any, dict[str, Any], type[errors.IQMError], str]] = [
    # (case, circuits, submit kwargs, error, phrase of the message)
    (
        "unsupported gate",
        [_raw(instructions=[{"name": "h", "qubits": ["q0"]}])],
        {},
        errors.CircuitValidationError,
        "unknown operation 'h'",
    ),
    (
        "gate argument missing",
        [_raw(instructions=[{"name": "prx", "qubits": ["q0"], "args": {"angle_t": 0.5}}])],
        {},
        errors.CircuitValidationError,
        "requires argument 'phase_t'",
    ),
    (
        "symbolic angle",
        [
            _raw(
                instructions=[
                    {"name": "prx", "qubits": ["q0"], "args": {"angle_t": "theta", "phase_t": 0}}
                ]
            )
        ],
        {},
        errors.CircuitValidationError,
        "'angle_t' must be int or float, got 'theta'",
    ),
    (
        "gate on the wrong number of qubits",
        [_raw(instructions=[{"name": "cz", "qubits": ["q0", "q1", "q2"]}])],
        {},
        errors.CircuitValidationError,
        "'cz' acts on 2 qubit",
    ),
    (
        "one qubit twice in a gate",
        [_raw(instructions=[{"name": "cz", "qubits": ["q0", "q0"]}])],
        {},
        errors.CircuitValidationError,
        "names a qubit twice",
    ),
    (
        "measurement key used twice",
        [
            _raw(
                instructions=[
                    {"name": "measure", "qubits": ["q0"], "args": {"key": "m"}},
                    {"name": "measure", "qubits": ["q1"], "args": {"key": "m"}},
                ]
            )
        ],
        {},
        errors.CircuitValidationError,
        "key 'm' is used twice",
    ),
    (
        "empty circuit",
        [_raw(instructions=[])],
        {},
        errors.CircuitValidationError,
        "Circuit 0 is invalid: instructions",
    ),
    ("empty batch", [], {}, errors.CircuitValidationError, "at least one circuit"),
    ("a string", "prx q0", {}, errors.CircuitValidationError, "is a str, not a circuit"),
    (
        "a pytket circuit",
        Circuit(1).H(0),
        {},
        errors.CircuitValidationError,
        "pytket Circuit; AsyncIQMClient takes",
    ),
    (
        "batch with inconsistent measurements",
        [circuit(prx("q0"), measure("q0")), circuit(prx("q1"), measure("q1"))],
        {},
        errors.CircuitValidationError,
        r"Circuit 1 \('c'\) measures qubits \['q1'\] but circuit 0 measures \['q0'\]",
    ),
    ("shots 0", BELL, {"shots": 0}, errors.ConfigurationError, "shots must be an int >= 1, got 0"),
    ("shots negative", BELL, {"shots": -5}, errors.ConfigurationError, "int >= 1, got -5"),
    ("shots a float", BELL, {"shots": 2.5}, errors.ConfigurationError, "int >= 1, got 2.5"),
    ("shots a string", BELL, {"shots": "100"}, errors.ConfigurationError, "got '100'"),
    ("shots a bool", BELL, {"shots": True}, errors.ConfigurationError, "got True"),
    (
        "mapping not injective",
        BELL,
        {"qubit_mapping": {"q0": "QB1", "q1": "QB1"}},
        errors.ConfigurationError,
        "not injective: 'q0' and 'q1' are both mapped to physical qubit 'QB1'",
    ),
    (
        "mapping misses a qubit",
        BELL,
        {"qubit_mapping": {"q0": "QB1"}},
        errors.ConfigurationError,
        r"uses qubits \['q1'\] that the mapping does not cover",
    ),
    (
        "mapping to a non-name",
        BELL,
        {"qubit_mapping": {"q0": 1, "q1": "QB2"}},
        errors.ConfigurationError,
        "entry 'q0': 1 is not a pair of qubit names",
    ),
    (
        "mapping not a dict",
        BELL,
        {"qubit_mapping": [("q0", "QB1"), ("q1", "QB2")]},
        errors.ConfigurationError,
        "qubit_mapping must be a dict .* got a list",
    ),
    (
        "calibration set id not a UUID",
        BELL,
        {"calibration_set_id": "latest"},
        errors.ConfigurationError,
        "calibration_set_id must be a UUID, got 'latest'",
    ),
    (
        "unknown option",
        BELL,
        {"heralding": "zeros"},
        errors.ConfigurationError,
        r"Unknown submit option\(s\) \['heralding'\]",
    ),
    (
        "bad option value",
        BELL,
        {"max_circuit_duration_over_t2": -1.0},
        errors.ConfigurationError,
        "max_circuit_duration_over_t2: Input should be greater than or equal to 0",
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("circuits", "kwargs", "error", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in SUBMIT_CASES],
)
async def test_bad_submissions_are_refused_before_any_request(
    circuits: Any,
    kwargs: dict[str, Any],
    error: type[errors.IQMError],
    phrase: str,
    offline_client: AsyncIQMClient,
) -> None:
    options = {"shots": 10, **kwargs}
    with pytest.raises(error, match=phrase) as info:
        await offline_client.submit(circuits, **options)
    assert isinstance(info.value, errors.InputError)
    assert isinstance(info.value, ValueError)  # as pytket users expect of bad input


# --- what only the server can know: refused with a 400 that names it, no job created ---------


@pytest.fixture
def emulator_client() -> tuple[Any, AsyncIQMClient]:
    app = create_app(EmulatorConfig(seed=3, parallel=True, job_seconds=0.0, max_shots=1000))
    client = AsyncIQMClient(
        ASGI_URL,
        api="cocos",
        transport=httpx.ASGITransport(app=app),
        retry=FAST_RETRY,
        poll=FAST_POLL,
    )
    return app.state.emulator, client


def _uncoupled_pair(emulator: Any) -> tuple[str, str]:
    coupled = {frozenset(locus) for locus in emulator.architecture.dqa.loci("cz")}
    qubits = emulator.architecture.dqa.qubits
    return next(
        (a, b) for a in qubits for b in qubits if a != b and frozenset((a, b)) not in coupled
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("qubit beyond the device", "acts on 'QB99', which this QPU does not have"),
        ("mapped to a qubit beyond the device", "mapped to 'QB77', which this QPU does not have"),
        ("cz on uncoupled qubits", "the pair is not coupled on this QPU"),
        ("shots beyond the server limit", "5000 shots exceed this server's limit of 1000"),
        ("unknown calibration set", "unknown calibration set"),
    ],
)
async def test_server_side_refusals_name_the_problem(
    case: str, phrase: str, emulator_client: tuple[Any, AsyncIQMClient]
) -> None:
    emulator, client = emulator_client
    a, b = _uncoupled_pair(emulator)
    submission: dict[str, Any] = {
        "qubit beyond the device": {"circuits": circuit(prx("QB99"), measure("QB99"))},
        "mapped to a qubit beyond the device": {
            "circuits": BELL,
            "qubit_mapping": {"q0": "QB1", "q1": "QB77"},
        },
        "cz on uncoupled qubits": {
            "circuits": circuit(Instruction(name="cz", qubits=(a, b)), measure(a, b)),
        },
        "shots beyond the server limit": {"circuits": BELL, "shots": 5000},
        "unknown calibration set": {"circuits": BELL, "calibration_set_id": uuid.uuid4()},
    }[case]
    submission.setdefault("shots", 10)
    if "qubit_mapping" not in submission and case != "qubit beyond the device":
        submission.setdefault("qubit_mapping", {"q0": "QB1", "q1": "QB2"})
    if case == "cz on uncoupled qubits":
        submission.pop("qubit_mapping")
    async with client:
        with pytest.raises(errors.BadRequestError, match=phrase) as info:
            await client.submit(**submission)
    assert info.value.status_code == 400
    assert "HTTP 400" in str(info.value)
    assert emulator.stats()["jobs_created"] == 0
    assert emulator.stats()["requests_by_route"] == {"POST /jobs": 1}  # refused, not retried


@pytest.mark.anyio
async def test_unknown_calibration_set_architecture_is_not_found(
    emulator_client: tuple[Any, AsyncIQMClient],
) -> None:
    _, client = emulator_client
    async with client:
        with pytest.raises(errors.NotFoundError, match=r"Calibration set .* not found"):
            await client.dynamic_architecture(uuid.uuid4())


@pytest.mark.anyio
async def test_a_job_id_the_server_does_not_know(
    emulator_client: tuple[Any, AsyncIQMClient],
) -> None:
    _, client = emulator_client
    job_id = str(uuid.uuid4())
    async with client:
        with pytest.raises(errors.NotFoundError, match=f"Job '{job_id}' not found") as info:
            await client.job(job_id).result(timeout=5)
    assert info.value.status_code == 404


def test_a_job_id_that_is_not_a_uuid() -> None:
    with pytest.raises(errors.ConfigurationError, match="job_id must be a UUID, got 'job-17'"):
        AsyncIQMClient(URL, api="cocos").job("job-17")


# --- client configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("cocos.example.com", "give the full URL with scheme and host"),
        ("ftp://cocos.example.com", "give the full URL with scheme and host"),
        ("https://", "give the full URL with scheme and host"),
    ],
)
def test_server_url_without_scheme_or_host(url: str, phrase: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=phrase) as info:
        AsyncIQMClient(url, api="cocos")
    assert repr(url) in str(info.value)


def test_server_url_with_credentials_never_echoes_them() -> None:
    with pytest.raises(errors.ConfigurationError, match="must not contain credentials") as info:
        AsyncIQMClient(f"https://alice:{PASSWORD}@cocos.example.com", api="cocos")
    assert PASSWORD not in str(info.value)


def test_plain_http_to_another_host_warns() -> None:
    with pytest.warns(UserWarning, match="Plain http to cocos.example.com: tokens and circuits"):
        AsyncIQMClient("http://cocos.example.com", api="cocos")


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"token": "t", "username": "alice"}, "Incomplete or ambiguous credentials"),
        ({"auth_server_url": URL, "username": "alice"}, "username=" + ""),
        ({"max_connections": 0}, "max_connections must be >= 1, got 0"),
        ({"timeout": -1}, "timeout must be seconds > 0"),
    ],
)
def test_bad_client_settings(kwargs: dict[str, Any], phrase: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=phrase) as info:
        AsyncIQMClient(URL, **kwargs)
    assert "token='t'" not in str(info.value)


# --- tokens files: refused before the API request is sent ------------------------------------


def _tokens(tmp: pathlib.Path, **fields: Any) -> pathlib.Path:
    path = tmp / "tokens.json"
    path.write_text(json.dumps({"pid": 1, "refresh_status": "SUCCESS", **fields}))
    path.chmod(0o600)
    return path


def _write(tmp: pathlib.Path, text: str) -> pathlib.Path:
    path = tmp / "tokens.json"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _directory(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "tokens.json").mkdir()
    return tmp / "tokens.json"


TOKENS_FILE_CASES = [
    ("missing", lambda tmp: tmp / "nope.json", "does not exist"),
    ("empty", lambda tmp: _write(tmp, ""), "is not valid JSON"),
    ("not JSON", lambda tmp: _write(tmp, "access_token=abc"), "is not valid JSON"),
    ("a JSON list", lambda tmp: _write(tmp, "[1, 2]"), "has no 'access_token'"),
    ("without access_token", lambda tmp: _tokens(tmp, refresh_token="r"), "no 'access_token'"),
    ("empty access_token", lambda tmp: _tokens(tmp, access_token=""), "no 'access_token'"),
    (
        "expired",
        lambda tmp: _tokens(tmp, access_token=make_jwt(exp=time.time() - 120)),
        r"expired 1\d\d s ago",
    ),
    ("a directory", _directory, "is a directory, not a file"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("make", "phrase"), [pytest.param(m, p, id=case) for case, m, p in TOKENS_FILE_CASES]
)
async def test_bad_tokens_file_is_refused_before_the_request(
    make: Any, phrase: str, tmp_path: pathlib.Path, no_network: respx.MockRouter
) -> None:
    path = make(tmp_path)
    async with AsyncIQMClient(URL, api="cocos", tokens_file=str(path), retry=FAST_RETRY) as client:
        with pytest.raises(errors.AuthenticationError, match=phrase) as info:
            await client.quantum_architecture()
    assert str(path) in str(info.value)
    assert "Log in" in str(info.value) or "log in" in str(info.value)
    assert not no_network.calls


@pytest.mark.anyio
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a chmod-000 file"
)
async def test_unreadable_tokens_file(tmp_path: pathlib.Path, no_network: respx.MockRouter) -> None:
    path = _tokens(tmp_path, access_token="x")
    path.chmod(0)
    async with AsyncIQMClient(URL, api="cocos", tokens_file=str(path)) as client:
        with pytest.raises(errors.AuthenticationError, match="permission denied"):
            await client.quantum_architecture()
    assert not no_network.calls


@pytest.mark.anyio
async def test_unreadable_tokens_file_simulated(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, no_network: respx.MockRouter
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_auth_sources, "_open_no_block", refuse)
    path = _tokens(tmp_path, access_token="x")
    async with AsyncIQMClient(URL, api="cocos", tokens_file=str(path)) as client:
        with pytest.raises(errors.AuthenticationError, match=r"cannot be read .permission denied"):
            await client.quantum_architecture()
    assert not no_network.calls


# --- wrong credentials ------------------------------------------------------------------------


@pytest.fixture
def auth_emulator() -> Any:
    return create_app(EmulatorConfig(seed=5, require_auth=True, password=PASSWORD))


@pytest.mark.anyio
async def test_wrong_password(auth_emulator: Any) -> None:
    transport = httpx.ASGITransport(app=auth_emulator)
    client = AsyncIQMClient(
        ASGI_URL,
        api="cocos",
        auth_server_url=ASGI_URL,
        username="emulator-user",
        password="not-" + PASSWORD,
        transport=transport,
        retry=FAST_RETRY,
    )
    async with client:
        with pytest.raises(errors.AuthenticationError, match="refused the login") as info:
            await client.quantum_architecture()
    assert "'emulator-user'" in str(info.value)
    assert PASSWORD not in str(info.value)
    # Only the login was sent: no API request went out with a missing token.
    assert list(auth_emulator.state.emulator.stats()["requests_by_route"]) == [
        "POST /realms/cortex/protocol/openid-connect/token"
    ]


@pytest.mark.anyio
async def test_wrong_api_token(auth_emulator: Any) -> None:
    transport = httpx.ASGITransport(app=auth_emulator)
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", token="security-token-77", transport=transport, retry=FAST_RETRY
    ) as client:
        with pytest.raises(errors.UnauthorizedError, match="not issued by this server") as info:
            await client.quantum_architecture()
    assert info.value.status_code == 401
    assert isinstance(info.value, errors.AuthenticationError)
    assert "security-token-77" not in str(info.value)


@pytest.mark.anyio
async def test_no_credentials_for_a_server_that_needs_them(auth_emulator: Any) -> None:
    transport = httpx.ASGITransport(app=auth_emulator)
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=transport, retry=FAST_RETRY
    ) as client:
        with pytest.raises(errors.UnauthorizedError, match="Not authenticated"):
            await client.quantum_architecture()


# --- server replies that are not what the protocol says (respx) --------------------------------
# mock_api and api_client (respx_fixtures.py): the default 5 attempts, not FAST_RETRY's 2.


HTML_PAGE = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>...</body></html>"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "error", "phrase"),
    [
        pytest.param(
            httpx.Response(200, text="OK"),
            errors.InvalidResponseError,
            r"quantum architecture from .* is not JSON .*starts with 'OK'",
            id="not JSON",
        ),
        pytest.param(
            httpx.Response(200, html=HTML_PAGE),
            errors.InvalidResponseError,
            r"is not JSON \(text/html.*not a login page or proxy",
            id="HTML page with 200",
        ),
        pytest.param(
            httpx.Response(502, html=HTML_PAGE),
            errors.BadGatewayError,
            r"HTTP 502 from .*<!DOCTYPE html>",
            id="HTML error page",
        ),
        pytest.param(
            httpx.Response(200, json={"quantum_architecture": {"name": "x"}}),
            errors.InvalidResponseError,
            r"not what the IQM protocol says \(quantum_architecture.operations: Field required",
            id="missing fields",
        ),
        pytest.param(
            httpx.Response(200, json=[1, 2, 3]),
            errors.InvalidResponseError,
            "not what the IQM protocol says",
            id="JSON of the wrong shape",
        ),
        pytest.param(
            httpx.Response(302, headers={"Location": "https://login.example.com/sso"}),
            errors.APIStatusError,
            "HTTP 302 .* redirect to https://login.example.com/sso.*does not follow redirects",
            id="redirect to a login page",
        ),
    ],
)
async def test_bad_replies(
    reply: httpx.Response,
    error: type[errors.IQMError],
    phrase: str,
    mock_api: respx.MockRouter,
    api_client: AsyncIQMClient,
) -> None:
    mock_api.get("/quantum-architecture").mock(return_value=reply)
    with pytest.raises(error, match=phrase):
        await api_client.quantum_architecture()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "error", "phrase"),
    [
        pytest.param(500, "x", errors.InternalServerError, "HTTP 500", id="error body"),
        pytest.param(200, "<", errors.InvalidResponseError, "is not JSON", id="success not JSON"),
    ],
)
async def test_huge_body_is_cut_short_in_the_error(
    status: int,
    body: str,
    error: type[errors.IQMError],
    phrase: str,
    mock_api: respx.MockRouter,
    api_client: AsyncIQMClient,
) -> None:
    mock_api.get("/quantum-architecture").respond(status, text=body * 5_000_000)
    with pytest.raises(error, match=phrase) as info:
        await api_client.quantum_architecture()
    assert len(str(info.value)) < 1000


@pytest.mark.anyio
async def test_submit_reply_without_job_id(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    mock_api.post("/jobs").respond(200, json={"job": "created"})
    # The server said yes, so the job may exist: an uncertain submission, not a bad reply.
    with pytest.raises(
        errors.SubmissionUncertainError,
        match=r"has no job id .*The server may have created the job",
    ):
        await api_client.submit(BELL, shots=1)


@pytest.mark.anyio
async def test_status_reply_without_status(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id = str(uuid.uuid4())
    mock_api.get(f"/jobs/{job_id}/status").respond(200, json={"message": None})
    with pytest.raises(errors.InvalidResponseError, match=r"job status .*\(status: Field required"):
        await api_client.job(job_id).status()


@pytest.mark.anyio
async def test_unknown_status_keeps_the_job_waiting(
    mock_api: respx.MockRouter, api_client: AsyncIQMClient
) -> None:
    job_id = str(uuid.uuid4())
    route = mock_api.get(f"/jobs/{job_id}/status").respond(200, json={"status": "teleporting"})
    job = api_client.job(job_id)
    # The message names the server's own word; the job reads as running meanwhile.
    with pytest.raises(errors.JobTimeoutError, match="last status: 'teleporting'") as info:
        await job.result(timeout=0.2)
    assert info.value.job_id == job_id
    assert info.value.last_status == "teleporting"
    assert job.last_status is not None and job.last_status.phase is JobPhase.RUNNING
    assert route.call_count >= 2  # still polled: a newer server may have a new status


@pytest.mark.anyio
async def test_job_404_on_status(mock_api: respx.MockRouter, api_client: AsyncIQMClient) -> None:
    job_id = str(uuid.uuid4())
    mock_api.get(f"/jobs/{job_id}/status").respond(404, json={"detail": "Job not found"})
    with pytest.raises(errors.NotFoundError, match=r"HTTP 404 .*Job not found.*Check the id"):
        await api_client.job(job_id).status()


# --- use after close: ClientClosedError (a RuntimeError), not bad input -----------------------


def _is_a_closed_client_error(error: BaseException) -> bool:
    """Misuse of the lifecycle, not bad input: ``except ValueError`` must not swallow it."""
    return (
        isinstance(error, errors.ClientClosedError)
        and isinstance(error, RuntimeError)
        and isinstance(error, errors.IQMError)
        and not isinstance(error, ValueError | errors.InputError)
    )


@pytest.mark.anyio
async def test_use_after_close_raises_client_closed_error(no_network: respx.MockRouter) -> None:
    async with AsyncIQMClient(URL, api="cocos", retry=FAST_RETRY, poll=FAST_POLL) as client:
        job = client.job(uuid.uuid4())
    calls: list[tuple[str, Any]] = [
        ("submit", lambda: client.submit(BELL, shots=10)),
        ("submit_json", lambda: client.submit_json([BELL.model_dump_json()], shots=10)),
        ("quantum_architecture", client.quantum_architecture),
        ("status", job.status),
        ("wait", job.wait),
        ("result", job.result),
        ("counts", job.counts),
        ("cancel", job.cancel),
        ("delete", job.delete),
        ("gather", lambda: client.gather([job])),
    ]
    for name, call in calls:
        with pytest.raises(errors.ClientClosedError, match="closed") as info:
            await call()
        assert _is_a_closed_client_error(info.value), name
    with pytest.raises(errors.ClientClosedError, match="closed") as info:
        async with client:
            pass
    assert _is_a_closed_client_error(info.value)
    await client.aclose()  # idempotent
    assert client.request_count == 0 and not no_network.calls


@pytest.mark.anyio
async def test_aclose_without_async_with_then_use_is_client_closed(
    no_network: respx.MockRouter,
) -> None:
    never_opened = AsyncIQMClient(URL, api="cocos", retry=FAST_RETRY, poll=FAST_POLL)
    # Before `async with` it is a usage error of the configuration kind, as before.
    with pytest.raises(errors.ConfigurationError, match="not open"):
        await never_opened.submit(BELL, shots=10)
    await never_opened.aclose()
    with pytest.raises(errors.ClientClosedError, match="closed") as info:
        await never_opened.submit(BELL, shots=10)
    assert _is_a_closed_client_error(info.value)
    assert not no_network.calls


@pytest.mark.anyio
async def test_closing_the_client_ends_a_current_wait_with_client_closed_error(
    mock_api: respx.MockRouter,
) -> None:
    job_id = str(uuid.uuid4())
    polled = anyio.Event()

    def pending(_request: httpx.Request) -> httpx.Response:
        polled.set()
        return httpx.Response(200, json={"status": "pending execution"})

    mock_api.get(f"/jobs/{job_id}/status").mock(side_effect=pending)
    errors_seen: list[BaseException] = []
    async with AsyncIQMClient(URL, api="cocos", retry=FAST_RETRY, poll=FAST_POLL) as client:

        async def wait_for_the_job() -> None:
            try:
                await client.job(job_id).result(timeout=30)
            except errors.IQMError as exc:
                errors_seen.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait_for_the_job)
                await polled.wait()  # the wait is under way
                await client.aclose()
    assert len(errors_seen) == 1
    assert _is_a_closed_client_error(errors_seen[0])
    assert job_id in str(errors_seen[0])


# --- pytket circuits through IQMBackend: refused before any submit ----------------------------


@pytest.fixture(scope="module")
def backend(live_emulator: LiveEmulator) -> Iterator[IQMBackend]:
    with IQMBackend(live_emulator.url, progress=False) as b:
        _ = b.backend_info  # the architecture, fetched once before the cases
        yield b


@pytest.fixture
def submits(live_emulator: LiveEmulator) -> Iterator[None]:
    """Assert that the test submitted no job."""
    before = live_emulator.emulator.stats()["requests_by_route"].get("POST /jobs", 0)
    yield
    assert live_emulator.emulator.stats()["requests_by_route"].get("POST /jobs", 0) == before


def _native(n: int = 2) -> Circuit:
    c = Circuit()
    for i in range(n):
        c.add_qubit(Node(i))
    return c


def _unsupported_gate() -> Circuit:
    return Circuit(2, 2).H(0).CX(0, 1).measure_all()


def _symbolic() -> Circuit:
    c = _native(1)
    c.add_gate(OpType.PhasedX, [Symbol("theta"), 0], [Node(0)])
    return c.measure_all()


def _mid_circuit_measurement() -> Circuit:
    c = _native(1)
    c.add_c_register("c", 2)
    c.add_gate(OpType.PhasedX, [0.5, 0], [Node(0)]).Measure(Node(0), Bit("c", 0))
    c.add_gate(OpType.PhasedX, [0.5, 0], [Node(0)]).Measure(Node(0), Bit("c", 1))
    return c


def _beyond_the_device() -> Circuit:
    c = Circuit()
    c.add_qubit(Node(40))
    c.add_gate(OpType.PhasedX, [0.5, 0], [Node(40)])
    return c.measure_all()


def _classical_control() -> Circuit:
    c = _native(2)
    c.add_c_register("c", 2)
    c.add_gate(OpType.PhasedX, [0.5, 0], [Node(0)]).Measure(Node(0), Bit("c", 0))
    c.add_gate(OpType.PhasedX, [1, 0], [Node(1)], condition_bits=[Bit("c", 0)], condition_value=1)
    return c.Measure(Node(1), Bit("c", 1))


def _no_measurement() -> Circuit:
    return _native(1).add_gate(OpType.PhasedX, [0.5, 0], [Node(0)])


def _uncoupled(backend: IQMBackend) -> Circuit:
    architecture = backend.backend_info.architecture
    assert architecture is not None
    nodes = architecture.nodes
    coupled = {frozenset(edge) for edge in architecture.coupling}
    a, b = next((x, y) for x in nodes for y in nodes if x != y and frozenset((x, y)) not in coupled)
    c = Circuit()
    c.add_qubit(a)
    c.add_qubit(b)
    return c.CZ(a, b).measure_all()


PYTKET_CASES = [
    ("unsupported gates", _unsupported_gate, r"fails GateSetPredicate: it uses gates .*\(CX, H;"),
    ("symbols", _symbolic, r"has symbolic parameters \(theta\); substitute values"),
    ("mid-circuit measurement", _mid_circuit_measurement, "mid-circuit measurement"),
    ("qubits beyond the device", _beyond_the_device, r"not qubits of the device \(node\[40\]"),
    ("classical control", _classical_control, "has classically controlled operations"),
    ("no measurement", _no_measurement, "measures nothing, so it would return no results"),
    ("empty circuit", lambda: Circuit(2), "is empty; add gates and measurements"),
    ("empty circuit without qubits", Circuit, "is empty"),
]


@pytest.mark.parametrize(
    ("make", "phrase"), [pytest.param(m, p, id=case) for case, m, p in PYTKET_CASES]
)
def test_backend_refuses_circuits_it_cannot_run(
    make: Any, phrase: str, backend: IQMBackend, submits: None
) -> None:
    with pytest.raises(errors.CircuitValidationError, match=phrase) as info:
        backend.process_circuits([make()], n_shots=10)
    assert str(info.value).startswith("Circuit 0 (")


def test_backend_refuses_gates_on_uncoupled_qubits(backend: IQMBackend, submits: None) -> None:
    with pytest.raises(errors.CircuitValidationError, match=r"does not couple. Compile it"):
        backend.process_circuits([_uncoupled(backend)], n_shots=10)


@pytest.mark.parametrize(
    ("n_shots", "phrase"),
    [
        (None, "Parameter n_shots is required"),
        (0, "n_shots must be an int >= 1, got 0"),
        (-1, "got -1"),
        (1.5, "got 1.5"),
        ("10", "got '10'"),
        (True, "got True"),
        ([10, None], "required for circuit 1"),
        ([10], "n_shots has 1 entries for 2 circuits"),
    ],
)
def test_backend_refuses_bad_shot_counts(
    n_shots: Any, phrase: str, backend: IQMBackend, submits: None
) -> None:
    c = _native(1).add_gate(OpType.PhasedX, [0.5, 0], [Node(0)]).measure_all()
    with pytest.raises(errors.ConfigurationError, match=phrase):
        backend.process_circuits([c, c], n_shots=n_shots)


def test_backend_shots_beyond_the_server_limit(live_emulator_factory: Any) -> None:
    live = live_emulator_factory(
        EmulatorConfig(seed=7, parallel=True, job_seconds=0, max_shots=100)
    )
    c = _native(1).add_gate(OpType.PhasedX, [0.5, 0], [Node(0)]).measure_all()
    with (
        IQMBackend(live.url, progress=False) as backend,
        pytest.raises(errors.PartialSubmissionError, match="0 of 1 items") as info,
    ):
        backend.process_circuits([c], n_shots=101)
    (refusal,) = info.value.errors
    assert isinstance(refusal, errors.BadRequestError)
    assert "101 shots exceed this server's limit of 100" in str(refusal)
    assert live.emulator.stats()["jobs_created"] == 0


def test_backend_unknown_calibration_set(live_emulator: LiveEmulator) -> None:
    # Construction fetches the architecture (as pytket-iqm's does), so it fails there.
    with pytest.raises(errors.NotFoundError, match=r"Calibration set .* not found"):
        IQMBackend(live_emulator.url, calibration_set_id=str(uuid.uuid4()))


def test_backend_architecture_override_with_unknown_qubit(live_emulator: LiveEmulator) -> None:
    with pytest.raises(errors.ConfigurationError, match=r"names \['QB99'\], which"):
        IQMBackend(live_emulator.url, arch=[["QB1", "QB99"]])


def test_backend_bad_batch_size() -> None:
    with pytest.raises(errors.ConfigurationError, match="batch_size must be an int >= 1, got 0"):
        IQMBackend(URL, batch_size=0)
