"""Wire models: every V1 example payload round-trips; bad payloads name the bad field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from iqm_async.api.cocos_wire import QuantumArchitecture, RunCounts, RunResult, RunStatus, Status
from iqm_async.models import (
    CLIENT_LIBRARIES,
    Circuit,
    DynamicQuantumArchitecture,
    Instruction,
    RunRequest,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


ROUND_TRIPS: list[tuple[str, type[BaseModel]]] = [
    ("run_request_v1.json", RunRequest),
    ("run_result_ready.json", RunResult),
    ("run_result_failed.json", RunResult),
    ("run_status.json", RunStatus),
    ("run_counts.json", RunCounts),
    ("quantum_architecture.json", QuantumArchitecture),
    ("quantum_architecture_list_form.json", QuantumArchitecture),
    ("dynamic_quantum_architecture.json", DynamicQuantumArchitecture),
]


@pytest.mark.parametrize(("filename", "model"), ROUND_TRIPS)
def test_example_payload_round_trips(filename: str, model: type[BaseModel]) -> None:
    payload = load(filename)
    parsed = model.model_validate(payload)
    assert parsed.to_wire() == payload  # type: ignore[attr-defined]
    # The JSON path must agree with the dict path.
    assert model.model_validate_json(json.dumps(payload)) == parsed


def test_era_a_request_parses_and_is_written_in_the_v1_form() -> None:
    payload = load("run_request_era_a.json")
    parsed = RunRequest.model_validate(payload)
    assert parsed.circuit_duration_check is True
    assert parsed.circuits[0].measurement_keys == ["c[0]"]
    defaults = {"move_validation_mode": "strict", "move_gate_frame_tracking_mode": "full"}
    assert parsed.to_wire() == {**payload, **defaults, "dd_mode": "disabled"}


def test_client_libraries_round_trip() -> None:
    payload = load("client_libraries.json")
    parsed = CLIENT_LIBRARIES.validate_python(payload)
    assert parsed["iqm-client"].min == "20.0"
    assert CLIENT_LIBRARIES.dump_python(parsed, mode="json", exclude_unset=True) == payload


def test_responses_ignore_unknown_fields() -> None:
    payload = load("run_result_ready.json")
    payload["queue_position"] = 3
    payload["metadata"]["new_server_field"] = {"x": 1}
    parsed = RunResult.model_validate(payload)
    assert parsed.status is Status.READY
    assert "queue_position" not in parsed.to_wire()
    dqa = load("dynamic_quantum_architecture.json")
    dqa["gates"]["prx"]["new_field"] = 1
    assert DynamicQuantumArchitecture.model_validate(dqa).qubits == ["QB1", "QB2", "QB3"]


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (RunStatus, {"status": "execution_started_v9"}),
        (RunResult, {"status": "post_processing_pending", "metadata": {}}),
        (RunCounts, {"status": "weird"}),
    ],
)
def test_unknown_status_reads_as_unknown_on_every_path(
    model: type[BaseModel], payload: dict[str, Any]
) -> None:
    assert model.model_validate(payload).status is Status.UNKNOWN  # type: ignore[attr-defined]
    assert model.model_validate_json(json.dumps(payload)).status is Status.UNKNOWN  # type: ignore[attr-defined]


def test_status_words_parse() -> None:
    # Which words end a job is the V1 variant's table (tests/test_api_cocos.py).
    assert Status("pending compilation") is Status.PENDING_COMPILATION
    assert Status("a word from a newer server") is Status.UNKNOWN


def _request(**changes: Any) -> dict[str, Any]:
    payload = load("run_request_v1.json")
    payload.update(changes)
    return payload


def _with_instruction(inst: dict[str, Any]) -> dict[str, Any]:
    payload = load("run_request_v1.json")
    payload["circuits"][0]["instructions"].insert(0, inst)
    return payload


MALFORMED: list[tuple[str, type[BaseModel], dict[str, Any], str]] = [
    ("shots zero", RunRequest, _request(shots=0), "shots"),
    ("shots negative", RunRequest, _request(shots=-5), "shots"),
    ("shots not int", RunRequest, _request(shots=10.5), "shots"),
    ("shots string", RunRequest, _request(shots="100"), "shots"),
    ("no circuits", RunRequest, _request(circuits=[]), "circuits"),
    ("extra request field", RunRequest, _request(shot_count=3), "shot_count"),
    ("bad heralding mode", RunRequest, _request(heralding_mode="ones"), "heralding_mode"),
    (
        "calibration id not uuid",
        RunRequest,
        _request(calibration_set_id="abc"),
        "calibration_set_id",
    ),
    (
        "mapping not injective",
        RunRequest,
        _request(
            qubit_mapping=[
                {"logical_name": "q0", "physical_name": "QB1"},
                {"logical_name": "q1", "physical_name": "QB1"},
            ]
        ),
        "QB1",
    ),
    (
        "mapping misses a qubit",
        RunRequest,
        _request(qubit_mapping=[{"logical_name": "q0", "physical_name": "QB1"}]),
        "qubit_mapping",
    ),
    (
        "frame tracking full without validation",
        RunRequest,
        _request(move_validation_mode="none"),
        "move_gate_frame_tracking_mode",
    ),
    (
        "unknown gate",
        RunRequest,
        _with_instruction({"name": "cnot", "qubits": ["q0", "q1"], "args": {}}),
        "cnot",
    ),
    (
        "prx without phase",
        RunRequest,
        _with_instruction({"name": "prx", "qubits": ["q0"], "args": {"angle_t": 0.5}}),
        "phase_t",
    ),
    (
        "prx angle not a number",
        RunRequest,
        _with_instruction(
            {"name": "prx", "qubits": ["q0"], "args": {"angle_t": "half", "phase_t": 0}}
        ),
        "angle_t",
    ),
    (
        "cz on one qubit",
        RunRequest,
        _with_instruction({"name": "cz", "qubits": ["q0"], "args": {}}),
        "cz",
    ),
    (
        "cz on a repeated qubit",
        RunRequest,
        _with_instruction({"name": "cz", "qubits": ["q0", "q0"], "args": {}}),
        "twice",
    ),
    (
        "measure without key",
        RunRequest,
        _with_instruction({"name": "measure", "qubits": ["q0"], "args": {}}),
        "key",
    ),
    (
        "duplicate measurement key",
        RunRequest,
        _with_instruction({"name": "measure", "qubits": ["q0"], "args": {"key": "m"}}),
        "'m'",
    ),
    (
        "instruction without qubits",
        RunRequest,
        _with_instruction({"name": "barrier", "qubits": [], "args": {}}),
        "qubits",
    ),
    (
        "cz with an argument",
        RunRequest,
        _with_instruction({"name": "cz", "qubits": ["q0", "q1"], "args": {"angle_t": 1}}),
        "angle_t",
    ),
    ("result without metadata", RunResult, {"status": "ready"}, "metadata"),
    ("result without status", RunResult, {"metadata": {}}, "status"),
    (
        "result with bad measurements",
        RunResult,
        {"status": "ready", "metadata": {}, "measurements": [{"m": [["x"]]}]},
        "measurements",
    ),
    (
        "counts without keys",
        RunCounts,
        {"status": "ready", "counts_batch": [{"counts": {}}]},
        "measurement_keys",
    ),
    (
        "dqa with bad calibration id",
        DynamicQuantumArchitecture,
        {**load("dynamic_quantum_architecture.json"), "calibration_set_id": "default"},
        "calibration_set_id",
    ),
    (
        "dqa without gates",
        DynamicQuantumArchitecture,
        {k: v for k, v in load("dynamic_quantum_architecture.json").items() if k != "gates"},
        "gates",
    ),
]


@pytest.mark.parametrize(
    ("model", "payload", "named"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_payload_names_the_field(
    model: type[BaseModel], payload: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        model.model_validate(payload)
    assert named in str(excinfo.value)


def test_request_leaves_out_none_but_always_sends_args() -> None:
    req = RunRequest(
        circuits=[
            Circuit(
                name="c",
                instructions=(Instruction(name="barrier", qubits=("QB1",)),),
            )
        ],
        shots=5,
    )
    wire = req.to_wire()
    assert "qubit_mapping" not in wire and "calibration_set_id" not in wire
    assert wire["circuits"][0]["instructions"][0] == {
        "name": "barrier",
        "qubits": ["QB1"],
        "args": {},
    }
    assert wire["heralding_mode"] == "none" and wire["dd_mode"] == "disabled"


def test_wire_json_is_the_wire_dict_as_json() -> None:
    request = RunRequest.model_validate(load("run_request_v1.json"))
    assert json.loads(request.to_wire_json()) == request.to_wire()
    assert b"null" not in request.to_wire_json()  # None fields are left out here too


def test_circuit_helpers() -> None:
    circuit = RunRequest.model_validate(load("run_request_v1.json")).circuits[0]
    assert circuit.measurement_keys == ["m"]
    assert circuit.qubits == ["q0", "q1"]


def test_architecture_helpers() -> None:
    dqa = DynamicQuantumArchitecture.model_validate(load("dynamic_quantum_architecture.json"))
    assert dqa.couplings == [("QB1", "QB3"), ("QB2", "QB3")]
    assert dqa.loci("measure") == [("QB1",), ("QB2",), ("QB3",)]
    assert dqa.loci("move") == []
    assert dqa.gates["cz"].implementation_for(("QB2", "QB3")) == "crf"
    assert dqa.gates["cz"].implementation_for(("QB1", "QB3")) == "tgss"
    old = QuantumArchitecture.model_validate(load("quantum_architecture_list_form.json"))
    loci = old.quantum_architecture.operation_loci()
    assert loci["cz"] == [["QB1", "QB3"], ["QB2", "QB3"]]
    assert loci["phased_rx"] == [["QB1"], ["QB2"], ["QB3"]]
