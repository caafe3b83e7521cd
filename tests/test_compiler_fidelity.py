"""The fidelity an estimated success probability predicts: the simulation it needs, the
formula, and the inputs it refuses (no network)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pytket.circuit import Circuit, Node, OpType
from sample_circuits import garnet, ghz
from sympy import Symbol
from test_compiler_helpers import random_circuit
from test_compiler_noise import garnet_like, uniform

from iqm_async.compiler import (
    MAX_SIMULATED_QUBITS,
    DeviceErrors,
    compile_circuits,
    estimated_fidelity,
    estimated_fidelity_from_dicts,
    estimated_success_probability,
    ideal_probabilities,
)
from iqm_async.errors import CircuitValidationError, InputError

ARCH = garnet(10)
METRICS = garnet_like()


def compiled(circuit: Circuit, level: int = 2) -> Circuit:
    return compile_circuits([circuit], ARCH, level, metrics=METRICS)[0]


def reference_probabilities(circuit: Circuit) -> np.ndarray:
    """pytket's own simulation of the uncompiled circuit (all qubits measured)."""
    return np.sort(np.abs(circuit.get_statevector()) ** 2)


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_ideal_probabilities_of_a_compiled_circuit_are_the_original_circuits(
    level: int, seed: int
) -> None:
    # Placement, routing (with its swaps and implicit permutations) and the rebase to
    # PhasedX/CZ change which qubit holds what, never the outcome probabilities.
    original = random_circuit(5, 4, seed)
    probabilities = ideal_probabilities(compiled(original.copy().measure_all(), level))
    assert len(probabilities) == 2**5
    np.testing.assert_allclose(np.sort(probabilities), reference_probabilities(original), atol=1e-9)


def test_ideal_probabilities_marginalise_unmeasured_qubits() -> None:
    circuit = Circuit(3, 1).PhasedX(0.5, -0.5, 0).CZ(0, 1).PhasedX(0.5, 0.5, 1)
    circuit.PhasedX(1.0, 0.0, 2).Measure(2, 0)  # only the flipped qubit is read
    np.testing.assert_allclose(np.sort(ideal_probabilities(circuit)), [0.0, 1.0], atol=1e-12)


def test_ideal_probabilities_of_a_circuit_without_measurements_is_one_outcome() -> None:
    assert list(ideal_probabilities(Circuit(2).CZ(0, 1))) == [1.0]


def test_a_single_outcome_circuit_is_predicted_at_s_plus_lucky_guesses() -> None:
    circuit = compiled(Circuit(3).X(0).X(2).measure_all())
    s = estimated_success_probability(circuit, METRICS)
    # The only outcome is hit by every error-free run and by 1/8 of the failed ones.
    assert estimated_fidelity(circuit, METRICS) == pytest.approx(s + (1 - s) / 8)


def test_a_uniform_outcome_is_predicted_perfect_whatever_the_noise() -> None:
    circuit = compiled(Circuit(4).H(0).H(1).H(2).H(3).measure_all())
    bad = uniform(cz=0.9, readout=0.2)
    assert estimated_success_probability(circuit, bad) < 0.5
    assert estimated_fidelity(circuit, bad) == pytest.approx(1.0)


def test_ghz_is_predicted_by_the_formula() -> None:
    circuit = compiled(ghz(5).measure_all())
    s = estimated_success_probability(circuit, METRICS)
    expected = (2 * math.sqrt(0.5 * (s * 0.5 + (1 - s) / 32))) ** 2
    assert estimated_fidelity(circuit, METRICS) == pytest.approx(expected)


def test_spread_outcomes_rank_above_ghz_at_a_lower_success_probability() -> None:
    # What the success probability alone cannot say: a circuit that fails more often can
    # still keep a higher fidelity, when its outcomes are spread out.
    spread = compiled(random_circuit(5, 4, 11).measure_all())
    concentrated = compiled(ghz(5).measure_all())
    s_spread = estimated_success_probability(spread, METRICS)
    s_ghz = estimated_success_probability(concentrated, METRICS)
    assert s_spread < s_ghz
    assert estimated_fidelity(spread, METRICS) > estimated_fidelity(concentrated, METRICS)


def test_for_one_circuit_the_prediction_grows_with_the_success_probability() -> None:
    circuit = compiled(ghz(4).measure_all())
    better, worse = uniform(cz=0.995, readout=0.01), uniform(cz=0.95, readout=0.05)
    assert estimated_success_probability(circuit, better) > estimated_success_probability(
        circuit, worse
    )
    assert estimated_fidelity(circuit, better) > estimated_fidelity(circuit, worse)


def test_given_ideal_probabilities_equal_the_simulated_ones() -> None:
    circuit = compiled(random_circuit(4, 3, 2).measure_all())
    simulated = estimated_fidelity(circuit, METRICS)
    given = estimated_fidelity(circuit, METRICS, ideal=list(ideal_probabilities(circuit)))
    assert given == pytest.approx(simulated)


def test_the_worker_entry_point_gives_the_same_figure() -> None:
    circuit = compiled(ghz(6).measure_all())
    errors = DeviceErrors.from_metrics(METRICS).to_json()
    assert estimated_fidelity_from_dicts(circuit.to_dict(), errors) == pytest.approx(
        estimated_fidelity(circuit, METRICS)
    )


def _wide(n_qubits: int) -> Circuit:
    circuit = Circuit()
    for i in range(n_qubits):
        circuit.add_qubit(Node(i))
    circuit.add_c_register("c", n_qubits)
    for i in range(n_qubits):
        circuit.add_gate(OpType.PhasedX, [1.0, 0.0], [Node(i)])
    for i in range(n_qubits):
        circuit.Measure(Node(i), circuit.bits[i])
    return circuit


def test_a_circuit_too_wide_to_simulate_needs_ideal_probabilities() -> None:
    wide = _wide(MAX_SIMULATED_QUBITS + 1)
    with pytest.raises(InputError, match=r"acts on 21 qubits.*at most 20.*ideal="):
        estimated_fidelity(wide, METRICS)
    s = estimated_success_probability(wide, METRICS)
    # Every qubit flipped: one outcome, known without simulating.
    assert estimated_fidelity(wide, METRICS, ideal=[1.0]) == pytest.approx(s + (1 - s) / 2**21)


@pytest.mark.parametrize(
    ("ideal", "message"),
    [
        ([], "at least one"),
        ([0.5, -0.1, 0.6], "non-negative"),
        ([float("nan"), 1.0], "finite"),
        ([0.5, 0.4], r"sum to 1 \(it sums to 0.9\)"),
        ([1 / 16] * 16, r"16 outcomes, more than the 2\*\*3"),
    ],
)
def test_bad_ideal_probabilities_are_refused(ideal: list[float], message: str) -> None:
    circuit = compiled(ghz(3).measure_all())
    with pytest.raises(InputError, match=message):
        estimated_fidelity(circuit, METRICS, ideal=ideal)


def test_a_symbolic_circuit_is_refused_with_what_to_do() -> None:
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_gate(OpType.PhasedX, [Symbol("theta"), 0.0], [Node(0)])
    with pytest.raises(CircuitValidationError, match=r"symbolic.*symbol_substitution"):
        ideal_probabilities(circuit)


def test_a_gate_after_a_measurement_is_refused() -> None:
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_c_register("c", 1)
    circuit.Measure(Node(0), circuit.bits[0])
    circuit.add_gate(OpType.PhasedX, [1.0, 0.0], [Node(0)])
    with pytest.raises(CircuitValidationError, match="after it is measured"):
        ideal_probabilities(circuit)


def test_a_qubit_measured_twice_is_refused() -> None:
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_c_register("c", 2)
    circuit.Measure(Node(0), circuit.bits[0]).Measure(Node(0), circuit.bits[1])
    with pytest.raises(CircuitValidationError, match="measured twice"):
        ideal_probabilities(circuit)


def test_an_uncompiled_circuit_is_refused() -> None:
    with pytest.raises(CircuitValidationError, match=r"H operation.*compiled circuits only"):
        ideal_probabilities(Circuit(2).H(0).measure_all())
    with pytest.raises(CircuitValidationError):
        estimated_fidelity(ghz(3).measure_all(), METRICS)
