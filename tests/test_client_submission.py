"""Submission building (the V1 API's run requests) and URL checks: pure functions, no event
loop."""

from __future__ import annotations

import json
import uuid

import pytest

from iqm_async.api import CocosV1, check_uuid
from iqm_async.api.cocos import RUN_OPTIONS, build_run_request
from iqm_async.client import check_url
from iqm_async.errors import CircuitValidationError, ConfigurationError
from iqm_async.models import Circuit, Instruction, RunRequest

CIRCUIT = Circuit(
    name="c", instructions=(Instruction(name="measure", qubits=("q0",), args={"key": "m"}),)
)


def test_one_circuit_or_a_batch_is_one_request() -> None:
    assert len(build_run_request(CIRCUIT, shots=3).circuits) == 1
    request = build_run_request([CIRCUIT, CIRCUIT.model_dump()], shots=3)  # type: ignore[list-item]
    assert len(request.circuits) == 2 and request.shots == 3


def test_mapping_and_calibration_set_go_on_the_wire() -> None:
    calset = uuid.uuid4()
    wire = build_run_request(
        CIRCUIT,
        shots=5,
        qubit_mapping={"q0": "QB2"},
        calibration_set_id=calset,
        options={"max_circuit_duration_over_t2": 0.0},
    ).to_wire()
    assert wire["qubit_mapping"] == [{"logical_name": "q0", "physical_name": "QB2"}]
    assert wire["calibration_set_id"] == str(calset)
    assert wire["max_circuit_duration_over_t2"] == 0.0


def test_options_are_the_run_request_fields_submit_does_not_name() -> None:
    assert "heralding_mode" in RUN_OPTIONS and "dd_mode" in RUN_OPTIONS
    assert CocosV1().run_options == RUN_OPTIONS
    assert not {"circuits", "shots", "qubit_mapping", "calibration_set_id"} & RUN_OPTIONS
    with pytest.raises(ConfigurationError, match="circuits"):
        build_run_request(CIRCUIT, shots=1, options={"circuits": []})


def test_bad_batches() -> None:
    with pytest.raises(CircuitValidationError, match="Circuit 1"):
        build_run_request([CIRCUIT, {"name": ""}], shots=1)  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="'full' needs"):
        build_run_request(CIRCUIT, shots=1, options={"move_validation_mode": "none"})


def test_urls_get_one_trailing_slash() -> None:
    assert check_url("https://h.example/cocos/") == "https://h.example/cocos/"
    assert check_url(" https://h.example ") == "https://h.example/"
    check_url("http://emulator", in_process=True)  # no warning: nothing leaves the process


def test_uuids() -> None:
    value = uuid.uuid4()
    assert check_uuid(str(value), "x") == value
    with pytest.raises(ConfigurationError, match="job_id must be a UUID"):
        check_uuid("nope", "job_id")


def test_a_json_body_around_written_circuits_equals_the_built_request() -> None:
    calset = uuid.uuid4()
    arguments = {"shots": 5, "qubit_mapping": {"q0": "QB2"}, "calibration_set_id": calset}
    circuits = [CIRCUIT, CIRCUIT.model_copy(update={"name": "d"})]
    built = build_run_request(circuits, **arguments)  # type: ignore[arg-type]
    body = CocosV1().encode_run_json([c.to_wire_json().decode() for c in circuits], **arguments)  # type: ignore[arg-type]
    assert json.loads(body) == built.to_wire()  # field order may differ: compare parsed
    assert RunRequest.model_validate_json(body) == built


@pytest.mark.parametrize(
    ("circuits", "arguments", "says"),
    [
        ([], {"shots": 1}, "Nothing to run"),
        (['{"name":"c"}'], {"shots": 0}, "shots must be an int >= 1, got 0"),
        (['{"name":"c"}'], {"shots": True}, "shots must be an int >= 1, got True"),
        (['{"name":"c"}'], {"shots": 1, "calibration_set_id": "x"}, "calibration_set_id must"),
        (['{"name":"c"}'], {"shots": 1, "qubit_mapping": ["q0"]}, "qubit_mapping must be a dict"),
    ],
)
def test_a_json_body_checks_everything_but_the_circuits(
    circuits: list[str], arguments: dict[str, object], says: str
) -> None:
    with pytest.raises((ConfigurationError, CircuitValidationError), match=says):
        CocosV1().encode_run_json(
            circuits,
            **{"qubit_mapping": None, "calibration_set_id": None, **arguments},  # type: ignore[arg-type]
        )
