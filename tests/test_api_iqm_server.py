"""The IQM Server API v1 variant without a server: request bodies as IQM's own client writes
them (SERVER_API.md section 3), replies read into the neutral types, the choice of API and
quantum computer, and, through respx, what the client does with it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import respx

from iqm_async import AsyncIQMClient, JobPhase
from iqm_async.api import CocosV1, IQMServerV1, QuantumComputer, choose_api, resolve_api
from iqm_async.errors import (
    BadRequestError,
    ConfigurationError,
    InvalidResponseError,
    JobFailedError,
)
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy, RetryPolicy
from iqm_async.results import CircuitCounts, JobResult, JobStatus

pytestmark = pytest.mark.anyio

API = IQMServerV1("garnet")
JOB = "0b8e6a53-6a3f-4d0e-8f55-0c4f1e9d2a71"
ROOT = "https://iqm.test"
BELL = Circuit(
    name="bell",
    instructions=(
        Instruction(name="prx", qubits=("alice",), args={"angle_t": 0.25, "phase_t": 0.25}),
        Instruction(name="cz", qubits=("alice", "bob")),
        Instruction(name="measure", qubits=("alice", "bob"), args={"key": "m"}),
    ),
)
MAPPING = {"alice": "QB1", "bob": "QB2"}


def reply(body: Any, status: int = 200, path: str = f"api/v1/jobs/{JOB}") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, request=httpx.Request("GET", f"{ROOT}/{path}"))


def job_data(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": JOB, "type": "circuit", "status": status, **fields}


# --- requests ---------------------------------------------------------------------------------


def test_the_definition_is_what_iqm_client_36_sends() -> None:
    body = API.encode_run(
        [BELL], shots=100, qubit_mapping=MAPPING, calibration_set_id=None, options={}
    )
    # SERVER_API.md section 3's wire example, byte for byte (nulls, field order, radians).
    expected = {
        "circuits": [
            {
                "name": "bell",
                "instructions": [
                    {
                        "name": "prx",
                        "locus": ["alice"],
                        "args": {"angle": math.pi / 2, "phase": math.pi / 2},
                        "implementation": None,
                    },
                    {"name": "cz", "locus": ["alice", "bob"], "args": {}, "implementation": None},
                    {
                        "name": "measure",
                        "locus": ["alice", "bob"],
                        "args": {"key": "m"},
                        "implementation": None,
                    },
                ],
                "metadata": None,
            }
        ],
        "calibration_set_id": None,
        "qubit_mapping": [
            {"logical_name": "alice", "physical_name": "QB1"},
            {"logical_name": "bob", "physical_name": "QB2"},
        ],
        "shots": 100,
        "max_circuit_duration_over_t2": None,
        "heralding_mode": "none",
        "move_gate_validation": "strict",
        "move_gate_frame_tracking": "full",
        "active_reset_cycles": None,
        "dd_mode": "disabled",
        "dd_strategy": None,
        "move_validation_mode": "strict",
        "move_gate_frame_tracking_mode": "full",
    }
    assert body == json.dumps(expected, separators=(",", ":")).encode()
    assert isinstance(json.loads(body)["circuits"][0]["instructions"][0]["args"]["angle"], float)


def test_json_circuits_give_the_same_definition() -> None:
    arguments: dict[str, Any] = {"shots": 7, "qubit_mapping": MAPPING, "calibration_set_id": None}
    from_models = API.encode_run([BELL, BELL], options={}, **arguments)
    from_json = API.encode_run_json([BELL.to_wire_json().decode()] * 2, **arguments)
    assert from_json == from_models


def test_options_take_this_apis_names_and_the_old_ones() -> None:
    def definition(**options: Any) -> dict[str, Any]:
        body = API.encode_run(
            BELL, shots=1, qubit_mapping=MAPPING, calibration_set_id=None, options=options
        )
        decoded: dict[str, Any] = json.loads(body)
        return decoded

    new = definition(move_gate_validation="allow_prx", dd_mode="enabled", active_reset_cycles=2)
    old = definition(move_validation_mode="allow_prx", dd_mode="enabled", active_reset_cycles=2)
    assert new == old
    assert new["move_gate_validation"] == new["move_validation_mode"] == "allow_prx"
    assert new["dd_mode"] == "enabled" and new["active_reset_cycles"] == 2
    with pytest.raises(ConfigurationError, match="custom_settings"):
        definition(custom_settings={"x": 1})
    with pytest.raises(ConfigurationError, match="shots must be an int"):
        API.encode_run(BELL, shots=0, qubit_mapping=None, calibration_set_id=None, options={})


def test_routes_name_the_quantum_computer() -> None:
    assert API.submit_route().path == "api/v1/jobs/garnet/circuit?use_timeslot=false"
    assert IQMServerV1("garnet", use_timeslot=True).submit_route().path.endswith("=true")
    assert API.dynamic_architecture_route("default").path == (
        "api/v1/calibration-sets/garnet/default/dynamic-quantum-architecture"
    )
    with pytest.raises(ConfigurationError, match="alias"):
        IQMServerV1("garnet/extra")


# --- replies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "phase"),
    [
        ("waiting", JobPhase.QUEUED),
        ("processing", JobPhase.RUNNING),
        ("completed", JobPhase.COMPLETED),
        ("failed", JobPhase.FAILED),
        ("cancelled", JobPhase.CANCELLED),
        ("a word from 2027", JobPhase.RUNNING),
    ],
)
def test_status_words(word: str, phase: JobPhase) -> None:
    status = API.read_status(reply(job_data(word)))
    assert status.phase is phase and status.raw == word


def test_queue_position_progress_errors_and_messages() -> None:
    waiting = API.read_status(reply(job_data("waiting", queue_position=3)))
    assert waiting.queue_position == 3 and waiting.progress is None
    running = API.read_status(
        reply(
            job_data(
                "processing",
                queue_position=5,  # only meaningful while waiting
                execution={"progress": {"circuits": {"value": 1, "max_value": 4}}},
                messages=[{"source": "iqm-server", "message": "calibration is old"}],
            )
        )
    )
    assert running.queue_position is None and running.progress == 0.25
    assert running.warnings == ("calibration is old",)
    failed = API.read_status(
        reply(
            job_data(
                "failed",
                errors=[
                    {
                        "message": "QB9 is not calibrated",
                        "error_code": "bad_qubit",
                        "source": "iqm-server",
                    }
                ],
            )
        )
    )
    assert failed.message == "iqm-server: bad_qubit: QB9 is not calibrated"


def test_a_reply_that_is_not_job_data_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match="job status"):
        API.read_status(reply({"state": "fine"}))
    with pytest.raises(InvalidResponseError, match="not a circuit job"):
        API.read_job_id(reply(job_data("waiting", type="run")))
    assert API.read_job_id(reply(job_data("waiting"))) == JOB


def test_measurements_are_read_into_arrays_both_ways() -> None:
    body = [{"m": [[0, 0], [1, 1], [1, 1]]}, {"a": [[1]], "b": [[0]]}]
    final = JobStatus(JobPhase.COMPLETED, "completed", warnings=("note",))
    plain = API.read_result(JOB, reply(json.dumps(body).encode()), final)
    spaced = API.read_result(JOB, reply(json.dumps(body, indent=2).replace("[", "[ ").encode()))
    for result in (plain, spaced):
        assert isinstance(result, JobResult)
        assert result.measurements == body
        assert result.measurement_arrays[0]["m"].dtype == np.uint8
    assert isinstance(plain, JobResult) and plain.warnings == ("note",)
    with pytest.raises(InvalidResponseError):
        API.read_result(JOB, reply(b'[{"m": [[0, 2]]}]'))


def test_counts_and_static_architecture() -> None:
    counts = API.read_counts(JOB, reply([{"measurement_keys": ["m"], "counts": {"00": 3}}]))
    assert counts == [CircuitCounts(("m",), {"00": 3})]
    sqa = API.read_architecture(
        reply([{"dut_label": "M000", "qubits": ["QB1", "QB2"], "connectivity": [["QB1", "QB2"]]}])
    )
    assert sqa.qubits == ["QB1", "QB2"] and sqa.qubit_connectivity == [["QB1", "QB2"]]
    with pytest.raises(InvalidResponseError, match="no static architecture"):
        API.read_architecture(reply([]))


def test_the_payload_echo_is_read_back_in_v1_words() -> None:
    # A server that echoes only this API's names (no deprecated duplicates): locus, radians,
    # move_gate_validation. Users read metadata.request in V1's words on either API.
    payload = {
        "circuits": [
            {
                "name": "bell",
                "instructions": [
                    {"name": "prx", "locus": ["alice"], "args": {"angle": math.pi / 2,
                     "phase": math.pi / 2}, "implementation": None},
                    {"name": "cz", "locus": ["alice", "bob"], "args": {}},
                    {"name": "measure", "locus": ["alice", "bob"], "args": {"key": "m"}},
                ],
                "metadata": None,
            }
        ],
        "qubit_mapping": [{"logical_name": q, "physical_name": p} for q, p in MAPPING.items()],
        "shots": 7,
        "move_gate_validation": "allow_prx",
        "move_gate_frame_tracking": "no_detuning_correction",
        "unknown_future_field": 1,
    }  # fmt: skip
    final = JobStatus(JobPhase.COMPLETED, "completed")
    request = API.read_metadata(JOB, reply(payload, path=f"api/v1/jobs/{JOB}/payload"), final)
    assert request.request is not None
    assert request.request.circuits[0].instructions == BELL.instructions
    assert request.request.shots == 7 and request.request.qubit_mapping_dict == MAPPING
    assert request.request.move_validation_mode.value == "allow_prx"
    assert request.request.move_gate_frame_tracking_mode.value == "no_detuning_correction"


def test_a_payload_angle_that_is_not_a_number_is_kept_as_echoed() -> None:
    payload = {
        "circuits": [
            {"name": "c", "instructions": [{"name": "prx", "locus": ["QB1"],
             "args": {"angle": "pi", "phase": 0.0}}]}
        ],
        "shots": 1,
    }  # fmt: skip
    final = JobStatus(JobPhase.COMPLETED, "completed")
    request = API.read_metadata(JOB, reply(payload), final).request
    assert request is not None
    instruction = request.circuits[0].instructions[0]
    assert instruction.qubits == ("QB1",)
    assert instruction.args == {"angle": "pi", "phase_t": 0.0}


# --- which API, which quantum computer --------------------------------------------------------

QCS = [
    QuantumComputer(id="00000000-0000-4000-8000-000000000001", alias="garnet"),
    QuantumComputer(id="00000000-0000-4000-8000-000000000002", alias="emerald"),
]


def test_the_url_decides_when_it_can() -> None:
    assert resolve_api("auto", url="https://cocos.example.com/") is not None
    assert isinstance(resolve_api("auto", url="https://example.com/garnet/"), CocosV1)
    assert resolve_api("auto", url=f"{ROOT}/") is None  # ask the server
    assert resolve_api("iqm-server", url=f"{ROOT}/") is None  # ask which quantum computers
    chosen = resolve_api("iqm-server", url=f"{ROOT}/", quantum_computer="garnet")
    assert isinstance(chosen, IQMServerV1) and chosen.quantum_computer == "garnet"
    with pytest.raises(
        ConfigurationError, match=r"use 'https://iqm.test' and quantum_computer='garnet'"
    ):
        resolve_api("iqm-server", url=f"{ROOT}/garnet/")
    with pytest.raises(ConfigurationError, match="CoCoS host"):
        resolve_api("iqm-server", url="https://cocos.example.com/")


def test_the_quantum_computer_is_chosen_or_the_error_lists_them() -> None:
    assert isinstance(choose_api(None, None), CocosV1)
    only = choose_api(QCS[:1], None)
    assert isinstance(only, IQMServerV1) and only.quantum_computer == "garnet"
    named = choose_api(QCS, "emerald")
    assert isinstance(named, IQMServerV1) and named.quantum_computer == "emerald"
    with pytest.raises(ConfigurationError, match="the server has: garnet, emerald"):
        choose_api(QCS, None)
    with pytest.raises(ConfigurationError, match="no quantum computer 'deneb'; it has: garnet"):
        choose_api(QCS, "deneb")
    with pytest.raises(ConfigurationError, match="does not list quantum computers"):
        choose_api(None, "garnet")


# --- the client over respx --------------------------------------------------------------------

FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.005, head_interval_s=0.005)
QUICK_RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.001)
LISTING = {
    "quantum_computers": [
        {"id": "00000000-0000-4000-8000-000000000001", "alias": "garnet", "display_name": "G"}
    ]
}


@pytest.fixture
def server() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ROOT, assert_all_called=False) as router:
        yield router


def client(**options: Any) -> AsyncIQMClient:
    return AsyncIQMClient(ROOT, poll=FAST, retry=QUICK_RETRY, **options)


async def test_auto_asks_once_and_runs_a_job(anyio_backend: str, server: respx.MockRouter) -> None:
    listing = server.get("/api/v1/quantum-computers").respond(json=LISTING)
    submit = server.post("/api/v1/jobs/garnet/circuit").respond(201, json=job_data("waiting"))
    polls = server.get(f"/api/v1/jobs/{JOB}").mock(
        side_effect=[
            httpx.Response(200, json=job_data("waiting", queue_position=1)),
            httpx.Response(200, json=job_data("processing")),
            httpx.Response(200, json=job_data("completed")),
        ]
    )
    server.get(f"/api/v1/jobs/{JOB}/artifacts/measurements").respond(json=[{"m": [[0, 0], [1, 1]]}])
    async with client(api="auto") as opened:
        assert isinstance(opened.api, IQMServerV1) and opened.api.quantum_computer == "garnet"
        job = await opened.submit(BELL, shots=2, qubit_mapping=MAPPING)
        result = await job.result(timeout=10)
        assert result.measurements == [{"m": [[0, 0], [1, 1]]}]
        assert await job.counts() == [CircuitCounts(("m",), {"00": 1, "11": 1})]
        kinds = opened.requests_by_kind
    assert listing.call_count == 1 and submit.call_count == 1 and polls.call_count == 3
    assert "counts" not in kinds  # counted from the measurements already fetched
    assert json.loads(submit.calls[0].request.content)["qubit_mapping"][0]["physical_name"] == "QB1"


async def test_auto_falls_back_to_cocos_on_404(
    anyio_backend: str, server: respx.MockRouter
) -> None:
    server.get("/api/v1/quantum-computers").respond(404, json={"detail": "Not Found"})
    async with client(api="auto") as opened:
        assert isinstance(opened.api, CocosV1)


async def test_several_quantum_computers_need_a_choice(
    anyio_backend: str, server: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    two = {"quantum_computers": [{"id": str(qc.id), "alias": qc.alias} for qc in QCS]}
    server.get("/api/v1/quantum-computers").respond(json=two)
    with pytest.raises(ConfigurationError, match="garnet, emerald"):
        async with client(api="iqm-server"):
            pass
    monkeypatch.setenv("IQM_QUANTUM_COMPUTER", "emerald")
    async with client(api="iqm-server") as opened:
        assert isinstance(opened.api, IQMServerV1) and opened.api.quantum_computer == "emerald"
        assert [qc.alias for qc in await opened.quantum_computers()] == ["garnet", "emerald"]


async def test_errors_keep_code_and_source_and_failures_their_reasons(
    anyio_backend: str, server: respx.MockRouter
) -> None:
    server.post("/api/v1/jobs/garnet/circuit").respond(
        400,
        json={
            "message": "shots above the limit",
            "error_code": "too_many_shots",
            "source": "iqm-server",
        },
    )
    async with client(api="iqm-server", quantum_computer="garnet") as opened:
        with pytest.raises(BadRequestError, match="shots above the limit") as info:
            await opened.submit(BELL, shots=10**6, qubit_mapping=MAPPING)
        assert info.value.error_code == "too_many_shots" and info.value.source == "iqm-server"

        server.post("/api/v1/jobs/garnet/circuit").respond(201, json=job_data("waiting"))
        server.get(f"/api/v1/jobs/{JOB}").respond(
            json=job_data(
                "failed", errors=[{"message": "QB9 broke", "source": "iqm-station-control"}]
            )
        )
        job = await opened.submit(BELL, shots=1, qubit_mapping=MAPPING)
        with pytest.raises(JobFailedError, match="iqm-station-control: QB9 broke"):
            await job.result(timeout=10)
        assert "result" not in opened.requests_by_kind  # the failure is in the status


def test_a_password_login_is_refused_on_the_iqm_server_api() -> None:
    with pytest.raises(ConfigurationError, match="no username/password login") as info:
        AsyncIQMClient(
            ROOT,
            api="iqm-server",
            quantum_computer="garnet",
            auth_server_url="https://auth.iqm.test",
            username="alice",
            password="s3cret-password",
        )
    assert "s3cret-password" not in str(info.value)
    # The V1 API has one: the same credentials are fine there.
    AsyncIQMClient(
        f"{ROOT}/garnet",
        api="cocos",
        auth_server_url="https://auth.iqm.test",
        username="alice",
        password="s3cret-password",
    )


async def test_a_job_the_submit_reply_says_ended_is_not_polled(
    anyio_backend: str, server: respx.MockRouter
) -> None:
    server.post("/api/v1/jobs/garnet/circuit").respond(201, json=job_data("completed"))
    polls = server.get(f"/api/v1/jobs/{JOB}").respond(json=job_data("completed"))
    server.get(f"/api/v1/jobs/{JOB}/artifacts/measurements").respond(json=[{"m": [[1, 1]]}])
    async with client(api="iqm-server", quantum_computer="garnet") as opened:
        job = await opened.submit(BELL, shots=1, qubit_mapping=MAPPING)
        assert job.last_status is not None and job.last_status.phase is JobPhase.COMPLETED
        assert (await job.result(timeout=10)).measurements == [{"m": [[1, 1]]}]
        assert opened.requests_by_kind == {"submit": 1, "result": 1}
    assert polls.call_count == 0
