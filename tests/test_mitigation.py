"""Readout-error mitigation from published readout errors (no network)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pytket.backends.backendresult import BackendResult
from pytket.circuit import Bit, Circuit, Node, OpType
from pytket.utils.outcomearray import OutcomeArray

from iqm_async.compiler import measured_qubits, mitigated_distribution
from iqm_async.errors import CircuitValidationError, InputError
from iqm_async.mitigation import (
    MAX_MITIGATED_BITS,
    confusion_matrix,
    mitigated_counts,
    mitigated_probabilities,
)
from iqm_async.quality import QualityMetrics, QubitQuality

METRICS = QualityMetrics(
    qubits={
        "QB1": QubitQuality(readout_error_0_to_1=0.02, readout_error_1_to_0=0.08),
        "QB2": QubitQuality(readout_error_0_to_1=0.05, readout_error_1_to_0=0.1),
        "QB3": QubitQuality(readout_fidelity=0.9),
    }
)


def _measured(true: dict[str, float], qubits: list[str]) -> dict[str, float]:
    """What a device with METRICS' independent readout errors reads for ``true``."""
    out: dict[str, float] = {}
    for prepared, p in true.items():
        for read in itertools.product("01", repeat=len(qubits)):
            chance = p
            for bit_read, bit_prepared, qubit in zip(read, prepared, qubits, strict=True):
                chance *= confusion_matrix(METRICS, qubit)[int(bit_read), int(bit_prepared)]
            key = "".join(read)
            out[key] = out.get(key, 0.0) + chance
    return out


def test_confusion_matrix_columns_are_the_prepared_state() -> None:
    assert np.allclose(confusion_matrix(METRICS, "QB1"), [[0.98, 0.08], [0.02, 0.92]])
    assert np.allclose(confusion_matrix(METRICS, "QB3"), [[0.9, 0.1], [0.1, 0.9]])
    assert np.allclose(confusion_matrix(METRICS, "QB9"), np.eye(2))  # nothing published
    assert np.allclose(confusion_matrix(METRICS, None), np.eye(2))


def test_a_known_confusion_model_is_undone() -> None:
    qubits = ["QB1", "QB2", "QB3"]
    true = {"000": 0.5, "111": 0.4, "010": 0.1}
    measured = _measured(true, qubits)
    counts = {k: v * 100_000 for k, v in measured.items()}  # exact expectations, as counts
    corrected = mitigated_probabilities(counts, qubits, METRICS)
    assert set(corrected) == set(true)  # the rest is ~0 and dropped or tiny
    for outcome, p in true.items():
        assert corrected[outcome] == pytest.approx(p, abs=1e-9)
    shots = mitigated_counts(counts, qubits, METRICS)
    assert shots["111"] == pytest.approx(40_000, rel=1e-9)


def test_negative_corrections_are_clipped_and_renormalised() -> None:
    # "01" and "10" never read: fewer than readout errors alone would produce from "00" and
    # "11", so the plain inverse is negative there.
    inverse = np.kron(
        np.linalg.inv(confusion_matrix(METRICS, "QB1")),
        np.linalg.inv(confusion_matrix(METRICS, "QB2")),
    )
    plain = inverse @ np.array([0.99, 0.0, 0.0, 0.01])
    assert plain[1] < 0 and plain[2] < 0
    corrected = mitigated_probabilities({"00": 990, "11": 10}, ["QB1", "QB2"], METRICS)
    assert set(corrected) == {"00", "11"}
    assert sum(corrected.values()) == pytest.approx(1.0)
    assert corrected["00"] == pytest.approx(plain[0] / (plain[0] + plain[3]))


def test_bit_order_follows_the_qubits() -> None:
    a = mitigated_probabilities({"01": 70, "10": 30}, ["QB1", "QB2"], METRICS)
    b = mitigated_probabilities({"10": 70, "01": 30}, ["QB2", "QB1"], METRICS)
    assert a["01"] == pytest.approx(b["10"]) and a["10"] == pytest.approx(b["01"])


def test_unpublished_qubits_are_not_corrected() -> None:
    counts = {"0": 80, "1": 20}
    assert mitigated_probabilities(counts, ["QB9"], METRICS) == {"0": 0.8, "1": 0.2}
    assert mitigated_probabilities({}, ["QB1"], METRICS) == {}


@pytest.mark.parametrize(
    ("counts", "qubits", "says"),
    [
        ({"012": 1}, ["QB1", "QB2", "QB3"], "not a string of 3"),
        ({"01": 1}, ["QB1", "QB2", "QB3"], "not a string of 3"),
        ({"0": -1}, ["QB1"], "counts must be numbers >= 0"),
        ({"0": "5"}, ["QB1"], "counts must be numbers >= 0"),
        ({"0": 1}, "QB1", "sequence of qubit names"),
        ({}, ["QB1"] * (MAX_MITIGATED_BITS + 1), f"at most {MAX_MITIGATED_BITS} bits"),
    ],
)
def test_bad_counts_are_refused(counts: dict, qubits: list[str], says: str) -> None:
    with pytest.raises(InputError, match=says):
        mitigated_probabilities(counts, qubits, METRICS)


def _compiled_pair() -> Circuit:
    circuit = Circuit(0)
    for i in (0, 1):
        circuit.add_qubit(Node(i))
    circuit.add_c_register("c", 3)  # c[2] is never measured
    circuit.add_gate(OpType.CZ, [Node(0), Node(1)])
    return circuit.Measure(Node(1), Bit("c", 0)).Measure(Node(0), Bit("c", 1))


def test_pytket_results_are_mitigated_per_measured_qubit() -> None:
    circuit = _compiled_pair()
    assert measured_qubits(circuit) == {Bit("c", 0): "QB2", Bit("c", 1): "QB1"}
    # c[0] is read from QB2, c[1] from QB1, c[2] always 0.
    true = {"00": 0.5, "11": 0.5}
    measured = _measured(true, ["QB2", "QB1"])
    rows = []
    for outcome, p in measured.items():
        rows += [[int(outcome[0]), int(outcome[1]), 0]] * round(p * 10_000)
    bits = [Bit("c", 0), Bit("c", 1), Bit("c", 2)]
    result = BackendResult(shots=OutcomeArray.from_readouts(rows), c_bits=bits)
    corrected = mitigated_distribution(result, circuit, METRICS)
    assert corrected[(0, 0, 0)] == pytest.approx(0.5, abs=0.01)
    assert corrected[(1, 1, 0)] == pytest.approx(0.5, abs=0.01)
    assert sum(corrected.values()) == pytest.approx(1.0)
    raw = result.get_counts()
    assert raw[(0, 0, 0)] / sum(raw.values()) < corrected[(0, 0, 0)]


def test_results_with_postprocessing_are_refused() -> None:
    bits = [Bit("c", 0), Bit("c", 1), Bit("c", 2)]
    result = BackendResult(
        shots=OutcomeArray.from_readouts([[0, 0, 0]]), c_bits=bits, ppcirc=Circuit(0, 3)
    )
    with pytest.raises(InputError, match="postprocess=False"):
        mitigated_distribution(result, _compiled_pair(), METRICS)


def test_results_of_another_circuit_are_refused() -> None:
    result = BackendResult(shots=OutcomeArray.from_readouts([[0]]), c_bits=[Bit("d", 0)])
    with pytest.raises(InputError, match="does not have"):
        mitigated_distribution(result, _compiled_pair(), METRICS)


def test_uncompiled_circuits_are_refused() -> None:
    with pytest.raises(CircuitValidationError, match="not a device node"):
        measured_qubits(Circuit(1, 1).Measure(0, 0))
