"""Server-side validation as pure functions (no HTTP, no event loop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iqm_async.emulator.architectures import Architecture, _from_json, load_architecture
from iqm_async.emulator.validation import (
    RequestRejected,
    batch_failure,
    map_circuit,
    parse_run_request,
    validate_run_request,
)
from iqm_async.models import Circuit

DATA = Path(__file__).parent / "data"


def with_cc_prx() -> Architecture:
    raw = json.loads((DATA / "dynamic_quantum_architecture.json").read_text())
    loci = [["QB1"], ["QB2"], ["QB3"]]
    raw["gates"]["cc_prx"] = {
        "implementations": {"prx_composite": {"loci": loci}},
        "default_implementation": "prx_composite",
    }
    return _from_json("feedback", raw)


def request(instructions: list[dict[str, Any]], **extra: Any) -> bytes:
    body = {"circuits": [{"name": "c", "instructions": instructions}], "shots": 10, **extra}
    return json.dumps(body).encode()


CC_PRX = {
    "name": "cc_prx",
    "qubits": ["QB2"],
    "args": {"angle_t": 0.5, "phase_t": 0.0, "feedback_key": "f", "feedback_qubit": "QB1"},
}


def test_cc_prx_needs_an_earlier_measure_with_its_feedback_key() -> None:
    arch = with_cc_prx()
    measure = {"name": "measure", "qubits": ["QB1"], "args": {"key": "m", "feedback_key": "f"}}
    ok = parse_run_request(request([measure, CC_PRX]))
    assert len(validate_run_request(ok, arch, max_shots=100)) == 1
    late = parse_run_request(request([CC_PRX, measure]))
    with pytest.raises(RequestRejected, match="no earlier measure provides"):
        validate_run_request(late, arch, max_shots=100)


def test_symmetric_cz_accepts_either_order_and_implementation_loci_are_checked() -> None:
    arch = load_architecture(str(DATA / "dynamic_quantum_architecture.json"))
    for pair in (["QB1", "QB3"], ["QB3", "QB1"]):
        parsed = parse_run_request(request([{"name": "cz", "qubits": pair, "args": {}}]))
        validate_run_request(parsed, arch, max_shots=10)
    wrong_impl = parse_run_request(
        request([{"name": "cz", "qubits": ["QB1", "QB3"], "args": {}, "implementation": "crf"}])
    )
    with pytest.raises(RequestRejected, match=r"'cz' on \(QB1, QB3\) is not calibrated"):
        validate_run_request(wrong_impl, arch, max_shots=10)


def test_barrier_needs_only_existing_components() -> None:
    arch = load_architecture("star")
    fine = parse_run_request(request([{"name": "barrier", "qubits": ["QB1", "QB5"], "args": {}}]))
    validate_run_request(fine, arch, max_shots=10)
    unknown = parse_run_request(request([{"name": "barrier", "qubits": ["QB9"], "args": {}}]))
    with pytest.raises(RequestRejected, match="'QB9', which this QPU does not have"):
        validate_run_request(unknown, arch, max_shots=10)


def test_mapping_renames_feedback_qubits_too() -> None:
    circuit = Circuit.model_validate(
        {"name": "c", "instructions": [{**CC_PRX, "qubits": ["b"],
                                        "args": {**CC_PRX["args"], "feedback_qubit": "a"}}]}
    )  # fmt: skip
    mapped = map_circuit(circuit, {"a": "QB1", "b": "QB2"})
    assert mapped.instructions[0].qubits == ("QB2",)
    assert mapped.instructions[0].args["feedback_qubit"] == "QB1"


def test_identity_mapping_keeps_the_circuit_as_sent() -> None:
    circuit = Circuit.model_validate(
        {"name": "c", "instructions": [{"name": "cz", "qubits": ["QB1", "QB2"], "args": {}}]}
    )
    assert map_circuit(circuit, {"QB1": "QB1", "QB2": "QB2"}) is circuit
    assert map_circuit(circuit, {}) is circuit
    swapped = map_circuit(circuit, {"QB1": "QB2", "QB2": "QB1"})
    assert swapped.instructions[0].qubits == ("QB2", "QB1")


def test_batch_failure_only_for_mismatched_measurements() -> None:
    def measuring(*qubits: str) -> Circuit:
        return Circuit.model_validate(
            {"name": "c", "instructions": [{"name": "measure", "qubits": list(qubits),
                                            "args": {"key": "m"}}]}
        )  # fmt: skip

    assert batch_failure([measuring("QB1", "QB2"), measuring("QB2", "QB1")]) is None
    assert "same qubits" in (batch_failure([measuring("QB1"), measuring("QB2")]) or "")
