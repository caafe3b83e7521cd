"""Noise-aware placement, the success estimate and backend_info's error fields (no network)."""

from __future__ import annotations

import json
import math
import random
from uuid import UUID

import numpy as np
import pytest
from pytket.architecture import Architecture
from pytket.backends.backendinfo import BackendInfo
from pytket.circuit import Circuit, Node, OpType
from pytket.passes import DecomposeBoxes, SequencePass, SynthesiseTket
from pytket.predicates import CompilationUnit
from sample_circuits import garnet, ghz
from test_compiler_helpers import assert_same_unitary, random_circuit

from iqm_async.compiler import (
    DeviceErrors,
    backend_info_errors,
    compile_circuits,
    default_compilation_pass,
    estimated_success_probability,
    gate_set,
    pass_from_dict,
    required_predicates,
)
from iqm_async.compiler._embed import best_embedding, device_costs
from iqm_async.compiler._mapping import candidate_passes
from iqm_async.compiler._noise import tally
from iqm_async.compiler._passes import finishing_passes
from iqm_async.errors import CircuitValidationError, ConfigurationError
from iqm_async.quality import QualityMetrics, QubitQuality

ARCH = garnet(10)
CAL = UUID("49229fc0-7406-48a4-bd53-9679cd57f9c7")


def _edges(arch: Architecture) -> list[tuple[str, str]]:
    return [(f"QB{a.index[0] + 1}", f"QB{b.index[0] + 1}") for a, b in arch.coupling]


def garnet_like(arch: Architecture = ARCH, seed: int = 5) -> QualityMetrics:
    """Heterogeneous figures in Garnet's ranges, seeded."""
    rng = random.Random(seed)
    qubits = {
        f"QB{n.index[0] + 1}": QubitQuality(
            prx_fidelity=1 - rng.uniform(3e-4, 3e-3),
            readout_error_0_to_1=rng.uniform(0.006, 0.05),
            readout_error_1_to_0=rng.uniform(0.01, 0.12),
        )
        for n in sorted(arch.nodes)
    }
    cz = {pair: rng.uniform(0.93, 0.999) for pair in _edges(arch)}
    return QualityMetrics(calibration_set_id=CAL, qubits=qubits, cz_fidelity=cz)


def uniform(arch: Architecture = ARCH, cz: float = 0.99, readout: float = 0.02) -> QualityMetrics:
    qubits = {
        f"QB{n.index[0] + 1}": QubitQuality(
            prx_fidelity=0.999, readout_error_0_to_1=readout, readout_error_1_to_0=readout
        )
        for n in arch.nodes
    }
    return QualityMetrics(qubits=qubits, cz_fidelity=dict.fromkeys(_edges(arch), cz))


def _on_nodes(*indices: int) -> Circuit:
    circuit = Circuit(0)
    for i in indices:
        circuit.add_qubit(Node(i))
    return circuit


def _used_couplers(circuit: Circuit) -> set[frozenset[str]]:
    return {
        frozenset(f"QB{q.index[0] + 1}" for q in command.qubits)
        for command in circuit.commands_of_type(OpType.CZ)
    }


# --- backend_info fields -------------------------------------------------------------------


def test_backend_info_fields_cover_every_node_and_both_directions() -> None:
    arch = Architecture([(Node(0), Node(1)), (Node(1), Node(2))])
    metrics = QualityMetrics(
        qubits={
            "QB1": QubitQuality(
                prx_fidelity=0.999, readout_error_0_to_1=0.01, readout_error_1_to_0=0.03
            ),
            "QB2": QubitQuality(prx_fidelity=0.995, readout_fidelity=0.9),  # fidelity only
            "QB3": QubitQuality(),  # nothing published: the worst figures
        },
        cz_fidelity={("QB2", "QB1"): 0.98},  # QB2-QB3 unpublished: the worst
    )
    fields = backend_info_errors(DeviceErrors.from_metrics(metrics), arch)
    n0, n1, n2 = Node(0), Node(1), Node(2)
    assert fields["averaged_node_gate_errors"] == pytest.approx({n0: 0.001, n1: 0.005, n2: 0.005})
    assert fields["all_node_gate_errors"][n1] == {OpType.PhasedX: pytest.approx(0.005)}
    edges = fields["averaged_edge_gate_errors"]
    assert edges == pytest.approx({(n0, n1): 0.02, (n1, n0): 0.02, (n1, n2): 0.02, (n2, n1): 0.02})
    assert fields["all_edge_gate_errors"][(n2, n1)] == {OpType.CZ: pytest.approx(0.02)}
    readout = fields["all_readout_errors"]
    assert np.allclose(readout[n0], [[0.99, 0.01], [0.03, 0.97]])
    assert np.allclose(readout[n1], [[0.9, 0.1], [0.1, 0.9]])
    assert np.allclose(readout[n2], [[0.9, 0.1], [0.1, 0.9]])  # worst e01, worst e10
    assert fields["averaged_readout_errors"] == pytest.approx({n0: 0.02, n1: 0.1, n2: 0.1})
    # pytket takes them and keeps them through its own serialisation.
    info = BackendInfo("b", "d", "0", arch, gate_set(), **fields)
    assert (
        BackendInfo.from_dict(info.to_dict()).averaged_edge_gate_errors
        == info.averaged_edge_gate_errors
    )


def test_a_kind_without_any_figure_is_left_out_not_perfect() -> None:
    metrics = QualityMetrics(cz_fidelity={("QB1", "QB2"): 0.99})
    fields = backend_info_errors(DeviceErrors.from_metrics(metrics), garnet(3))
    assert set(fields) == {"averaged_edge_gate_errors", "all_edge_gate_errors"}


def test_an_unpublished_coupler_gets_the_worst_published_figure() -> None:
    metrics = garnet_like()
    worst = min(metrics.cz_fidelity.values())
    missing = _edges(ARCH)[0]
    thinner = QualityMetrics(
        qubits=metrics.qubits,
        cz_fidelity={k: v for k, v in metrics.cz_fidelity.items() if k != missing},
    )
    errors = DeviceErrors.from_metrics(thinner)
    assert errors.cz_error(*missing) == pytest.approx(1 - worst)
    assert errors.cz_error(missing[1], missing[0]) == pytest.approx(1 - worst)


def test_device_errors_survive_json() -> None:
    errors = DeviceErrors.from_metrics(garnet_like())
    again = DeviceErrors.from_json(json.loads(json.dumps(errors.to_json())))
    assert again == errors
    assert again.calibration_set_id == str(CAL)


# --- the estimate --------------------------------------------------------------------------


def test_estimate_of_a_hand_computed_circuit() -> None:
    metrics = QualityMetrics(
        qubits={
            "QB1": QubitQuality(
                prx_fidelity=0.99, readout_error_0_to_1=0.02, readout_error_1_to_0=0.04
            ),
            "QB2": QubitQuality(prx_fidelity=0.98, readout_fidelity=0.9),
        },
        cz_fidelity={("QB2", "QB1"): 0.95},
    )
    circuit = _on_nodes(0, 1)
    circuit.add_c_register("c", 2)
    q0, q1 = Node(0), Node(1)
    circuit.add_gate(OpType.PhasedX, [0.5, 0], [q0])
    circuit.add_gate(OpType.PhasedX, [0.5, 0], [q0])
    circuit.add_gate(OpType.PhasedX, [0.5, 0], [q1])
    circuit.add_gate(OpType.CZ, [q0, q1])
    circuit.add_barrier([q0, q1])
    circuit.Measure(q0, circuit.bits[0]).Measure(q1, circuit.bits[1])
    expected = 0.99 * 0.99 * 0.98 * 0.95 * (1 - 0.03) * (1 - 0.1)
    assert estimated_success_probability(circuit, metrics) == pytest.approx(expected, rel=1e-12)
    assert estimated_success_probability(Circuit(0), metrics) == 1.0


@pytest.mark.parametrize(
    ("circuit", "says"),
    [
        (Circuit(2).CX(0, 1), "not a device node"),
        (_on_nodes(0).H(Node(0)), "has a H gate"),
    ],
)
def test_estimate_refuses_circuits_not_compiled_for_the_device(circuit: Circuit, says: str) -> None:
    with pytest.raises(CircuitValidationError, match=says):
        estimated_success_probability(circuit, garnet_like())


# --- placement -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 2])
def test_no_metrics_gives_todays_pass_exactly(level: int) -> None:
    today = default_compilation_pass(ARCH, level)
    for metrics in (None, QualityMetrics(), QualityMetrics(qubits={"QB1": QubitQuality()})):
        same = default_compilation_pass(ARCH, level, metrics)
        assert same.to_dict() == today.to_dict()
    circuit = random_circuit(6, 4, seed=level).measure_all()
    first, second = circuit.copy(), circuit.copy()
    today.apply(first)
    default_compilation_pass(ARCH, level, None).apply(second)
    assert first == second


@pytest.mark.parametrize("level", [0, 1, 2])
def test_noise_aware_circuits_keep_their_unitary(level: int) -> None:
    pass_ = default_compilation_pass(ARCH, level, garnet_like(seed=level))
    predicates = required_predicates(ARCH)
    for seed in range(12):
        original = random_circuit(2 + seed % 5, 2 + seed % 4, seed=500 + seed)
        unit = CompilationUnit(original.copy())
        pass_.apply(unit)
        failed = [type(p).__name__ for p in predicates if not p.verify(unit.circuit)]
        assert not failed, f"seed {seed}: {failed}"
        assert_same_unitary(original, unit.circuit, unit.initial_map, unit.final_map)


def test_noise_aware_compiling_twice_gives_the_same_circuit() -> None:
    circuit = random_circuit(8, 6, seed=7).measure_all()
    metrics = garnet_like(garnet(), seed=1)
    first, second = circuit.copy(), circuit.copy()
    default_compilation_pass(garnet(), 1, metrics).apply(first)
    default_compilation_pass(garnet(), 1, metrics).apply(second)
    assert first == second
    assert first.get_commands() == second.get_commands()


def test_noise_aware_placement_avoids_a_bad_coupler() -> None:
    circuit = ghz(4).measure_all()
    plain = circuit.copy()
    default_compilation_pass(ARCH, 1).apply(plain)
    bad = sorted(_used_couplers(plain), key=sorted)[0]
    metrics = uniform()
    cz = {pair: (0.6 if frozenset(pair) == bad else f) for pair, f in metrics.cz_fidelity.items()}
    noisy = QualityMetrics(qubits=metrics.qubits, cz_fidelity=cz)
    placed = circuit.copy()
    default_compilation_pass(ARCH, 1, noisy).apply(placed)
    assert bad not in _used_couplers(placed)
    assert placed.n_gates_of_type(OpType.CZ) == plain.n_gates_of_type(OpType.CZ)
    assert estimated_success_probability(placed, noisy) > estimated_success_probability(
        plain, noisy
    )


def test_noise_aware_placement_avoids_a_bad_readout() -> None:
    circuit = ghz(3).measure_all()
    plain = circuit.copy()
    default_compilation_pass(ARCH, 1).apply(plain)
    measured = sorted(f"QB{q.index[0] + 1}" for q in plain.qubits)
    metrics = uniform()
    qubits = dict(metrics.qubits)
    qubits[measured[0]] = QubitQuality(
        prx_fidelity=0.999, readout_error_0_to_1=0.3, readout_error_1_to_0=0.4
    )
    placed = circuit.copy()
    default_compilation_pass(
        ARCH, 1, QualityMetrics(qubits=qubits, cz_fidelity=metrics.cz_fidelity)
    ).apply(placed)
    assert measured[0] not in {f"QB{q.index[0] + 1}" for q in placed.qubits}


def test_the_compiled_circuit_has_the_best_estimate_of_the_candidates() -> None:
    metrics = garnet_like(seed=9)
    errors = DeviceErrors.from_metrics(metrics)
    circuit = random_circuit(6, 5, seed=21).measure_all()
    compiled = circuit.copy()
    default_compilation_pass(ARCH, 1, metrics).apply(compiled)
    prepared = circuit.copy()
    SequencePass([DecomposeBoxes(), SynthesiseTket()]).apply(prepared)
    estimates = []
    for candidate in candidate_passes(ARCH, 1, finishing_passes, errors):
        routed = prepared.copy()
        candidate.apply(routed)
        estimates.append(estimated_success_probability(routed, metrics))
    assert len(estimates) == 4  # today's three and the noise-aware one
    # Each candidate is also moved to its best spot, so the result is at least as good.
    assert estimated_success_probability(compiled, metrics) >= max(estimates) - 1e-12


def _placements_of_type(pass_dict: object, kind: str) -> list[dict[str, object]]:
    if isinstance(pass_dict, dict):
        found = [pass_dict] if pass_dict.get("type") == kind else []
        return found + [p for v in pass_dict.values() for p in _placements_of_type(v, kind)]
    if isinstance(pass_dict, list):
        return [p for v in pass_dict for p in _placements_of_type(v, kind)]
    return []


def test_noise_aware_placement_is_bounded_by_matches_not_time() -> None:
    errors = DeviceErrors.from_metrics(garnet_like())
    candidates = candidate_passes(ARCH, 2, finishing_passes, errors)
    found = _placements_of_type([c.to_dict() for c in candidates], "NoiseAwarePlacement")
    assert len(found) == 1
    assert found[0]["timeout"] == 600_000 and found[0]["matches"] == 100


def test_noise_aware_pass_survives_its_dict_form() -> None:
    pass_ = default_compilation_pass(ARCH, 1, garnet_like())
    rebuilt = pass_from_dict(json.loads(json.dumps(pass_.to_dict())))
    circuit = random_circuit(6, 4, seed=3).measure_all()
    first, second = circuit.copy(), circuit.copy()
    pass_.apply(first)
    rebuilt.apply(second)
    assert first == second


def test_compile_circuits_passes_metrics_on() -> None:
    metrics = garnet_like(seed=2)
    circuit = ghz(4).measure_all()
    expected = circuit.copy()
    default_compilation_pass(ARCH, 1, metrics).apply(expected)
    assert compile_circuits([circuit], ARCH, 1, metrics=metrics) == [expected]


# --- the embedding search ------------------------------------------------------------------


def _line_errors(cz: list[float]) -> tuple[DeviceErrors, list[tuple[int, int]]]:
    couplings = [(i, i + 1) for i in range(len(cz))]
    errors = DeviceErrors(
        cz={(f"QB{a + 1}", f"QB{b + 1}"): 1 - f for (a, b), f in zip(couplings, cz, strict=True)}
    )
    return errors, couplings


def _cz_circuit(a: int, b: int) -> Circuit:
    return _on_nodes(a, b).add_gate(OpType.CZ, [Node(a), Node(b)])


def test_embedding_moves_a_cz_to_the_best_coupler() -> None:
    errors, couplings = _line_errors([0.9, 0.95, 0.99, 0.97])
    device = device_costs(errors, couplings)
    moves = best_embedding(tally(_cz_circuit(0, 1)), device)
    assert {frozenset(moves.values())} == {frozenset({2, 3})}


def test_embedding_without_steps_keeps_the_circuit_where_it_is() -> None:
    errors, couplings = _line_errors([0.9, 0.95, 0.99, 0.97])
    device = device_costs(errors, couplings)
    assert best_embedding(tally(_cz_circuit(0, 1)), device, max_steps=0) == {0: 0, 1: 1}


def test_embedding_keeps_the_circuit_on_a_node_the_device_lacks() -> None:
    errors, couplings = _line_errors([0.9, 0.99])
    device = device_costs(errors, couplings)
    assert best_embedding(tally(_cz_circuit(5, 6)), device) == {5: 5, 6: 6}


def test_estimate_log_is_a_sum() -> None:
    # The placement compares sums of log-fidelities: equal to the product's log.
    metrics = garnet_like()
    compiled = ghz(5).measure_all()
    default_compilation_pass(ARCH, 1, metrics).apply(compiled)
    from iqm_async.compiler._noise import log_success

    value = log_success(tally(compiled), DeviceErrors.from_metrics(metrics))
    assert math.exp(value) == pytest.approx(estimated_success_probability(compiled, metrics))


def test_metrics_need_an_architecture_of_device_nodes() -> None:
    foreign = Architecture([(Node("q", 0), Node("q", 1))])
    with pytest.raises(ConfigurationError, match="nodes node\\[n-1\\]"):
        default_compilation_pass(foreign, 1, garnet_like())
    default_compilation_pass(foreign, 1)  # without metrics, any node names do
