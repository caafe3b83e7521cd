"""IQMBackend with quality metrics: backend_info's error fields, noise-aware compilation,
the success and fidelity estimates and readout mitigation (by result and by handle), against
the emulator over loopback."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from emulator_fixtures import LiveEmulator
from pytket.circuit import Bit, Circuit, Node, OpType
from pytket.placement import NoiseAwarePlacement
from sample_circuits import ghz, ideal_probabilities
from test_compiler_helpers import random_circuit

from iqm_async import IQMBackend
from iqm_async.compiler import (
    default_compilation_pass,
    estimated_fidelity,
    estimated_success_probability,
    mitigated_distribution,
)
from iqm_async.emulator import EmulatorConfig
from iqm_async.errors import ConfigurationError, InputError

Start = Callable[[EmulatorConfig], LiveEmulator]


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


def with_metrics(start: Start, seed: int, **config: bool) -> LiveEmulator:
    """An emulator over loopback that serves generated quality metrics."""
    return start(
        EmulatorConfig(seed=seed, parallel=True, job_seconds=0.0, metrics="generated", **config)
    )


def _metrics_gets(live: LiveEmulator) -> int:
    routes = live.emulator.stats()["requests_by_route"]
    return sum(n for route, n in routes.items() if "metrics" in route)


def test_backend_info_carries_the_published_errors(live_emulator_factory: Start) -> None:
    live = with_metrics(live_emulator_factory, seed=3)
    published = live.emulator.device.metrics
    assert published is not None
    with IQMBackend(live.url, progress=False) as backend:
        metrics = backend.quality_metrics
        assert metrics == published
        info = backend.backend_info
    architecture = info.architecture
    assert architecture is not None
    nodes = set(architecture.nodes)
    assert info.averaged_node_gate_errors is not None
    assert set(info.averaged_node_gate_errors) == nodes
    assert info.averaged_readout_errors is not None and set(info.averaged_readout_errors) == nodes
    assert info.all_readout_errors is not None
    edges = info.averaged_edge_gate_errors
    assert edges is not None
    for a, b in architecture.coupling:
        assert edges[(a, b)] == edges[(b, a)]
        named = metrics.cz(f"QB{a.index[0] + 1}", f"QB{b.index[0] + 1}")
        worst = 1 - min(metrics.cz_fidelity.values())
        assert edges[(a, b)] == pytest.approx(1 - named if named is not None else worst)
    q1 = metrics.qubit("QB1")
    assert info.all_readout_errors[Node(0)][0][1] == pytest.approx(q1.readout_error_0_to_1)
    assert info.all_readout_errors[Node(0)][1][0] == pytest.approx(q1.readout_error_1_to_0)
    assert info.misc["t1_s"]["QB1"] == pytest.approx(q1.t1_s)
    assert info.misc["calibration_set_id"] == str(metrics.calibration_set_id)
    # pytket's own noise-aware placement takes the fields as they are.
    placement = NoiseAwarePlacement(
        architecture,
        info.averaged_node_gate_errors,
        edges,
        info.averaged_readout_errors,
    )
    placed = placement.get_placement_map(Circuit(2).CZ(0, 1))
    assert set(placed.values()) <= nodes


def test_backend_compiles_noise_aware_and_estimates(live_emulator_factory: Start) -> None:
    live = with_metrics(live_emulator_factory, seed=3)
    circuit = ghz(4).measure_all()
    with IQMBackend(live.url, progress=False) as backend:
        metrics = backend.quality_metrics
        assert metrics is not None
        architecture = backend.backend_info.architecture
        expected = circuit.copy()
        default_compilation_pass(architecture, 2, metrics).apply(expected)
        assert backend.get_compiled_circuit(circuit) == expected
        pass_dict = backend.default_compilation_pass(1).to_dict()
        assert pass_dict == default_compilation_pass(architecture, 1, metrics).to_dict()
        estimate = backend.estimated_success_probability(expected)
        assert estimate == pytest.approx(estimated_success_probability(expected, metrics))
        assert 0 < estimate < 1
        live.emulator.reset_stats()
        backend.get_compiled_circuits([circuit, circuit])
        assert _metrics_gets(live) == 0  # fetched once, with the architecture


def test_without_published_metrics_the_backend_counts_czs(live_emulator: LiveEmulator) -> None:
    circuit = ghz(4).measure_all()
    with IQMBackend(live_emulator.url, progress=False) as backend:
        assert backend.quality_metrics is None
        info = backend.backend_info
        assert info.averaged_edge_gate_errors is None and info.all_readout_errors is None
        architecture = info.architecture
        expected = circuit.copy()
        default_compilation_pass(architecture, 2).apply(expected)
        assert backend.get_compiled_circuit(circuit) == expected
        assert backend.estimated_success_probability(expected) is None


def test_backend_estimates_the_fidelity_a_circuit_should_reach(
    live_emulator_factory: Start,
) -> None:
    live = with_metrics(live_emulator_factory, seed=3)
    with IQMBackend(live.url, progress=False) as backend:
        metrics = backend.quality_metrics
        assert metrics is not None
        compiled = backend.get_compiled_circuit(ghz(4).measure_all())
        predicted = backend.estimated_fidelity(compiled)
        assert predicted == pytest.approx(estimated_fidelity(compiled, metrics))
        assert backend.estimated_fidelity(compiled, ideal=[0.5, 0.5]) == pytest.approx(predicted)


def test_without_published_metrics_there_is_no_fidelity_estimate(
    live_emulator: LiveEmulator,
) -> None:
    with IQMBackend(live_emulator.url, progress=False) as backend:
        compiled = backend.get_compiled_circuit(ghz(3).measure_all())
        assert backend.estimated_fidelity(compiled) is None


def test_readout_mitigation_raises_ghz_fidelity_by_result_and_by_handle(
    live_emulator_factory: Start,
) -> None:
    live = with_metrics(live_emulator_factory, seed=5, noise=True)
    with IQMBackend(live.url, progress=False) as backend:
        compiled = backend.get_compiled_circuit(ghz(3).measure_all())
        handle = backend.process_circuits([compiled], n_shots=4000)[0]
        by_handle = backend.get_mitigated_distribution(handle)
        result = backend.get_result(handle)
        metrics = backend.quality_metrics
        assert metrics is not None
    assert compiled.n_gates_of_type(OpType.CZ) == 2
    counts = result.get_counts([Bit("c", i) for i in range(3)])
    raw = (counts[(0, 0, 0)] + counts[(1, 1, 1)]) / sum(counts.values())
    corrected = mitigated_distribution(result, compiled, metrics)
    assert sum(corrected.values()) == pytest.approx(1.0)
    assert corrected.get((0, 0, 0), 0) + corrected.get((1, 1, 1), 0) > raw
    # By handle: the same figures, the qubits read from the job's request echo.
    assert by_handle.keys() == corrected.keys()
    for outcome, probability in corrected.items():
        assert by_handle[outcome] == pytest.approx(probability)


def test_mitigation_by_handle_needs_published_readout_errors(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, progress=False) as backend:
        compiled = backend.get_compiled_circuit(ghz(2).measure_all())
        handle = backend.process_circuits([compiled], n_shots=10)[0]
        with pytest.raises(ConfigurationError, match=r"no readout errors.*get_result"):
            backend.get_mitigated_distribution(handle)


def test_mitigation_by_handle_refuses_post_processed_results(
    live_emulator_factory: Start,
) -> None:
    live = with_metrics(live_emulator_factory, seed=5)
    with IQMBackend(live.url, progress=False) as backend:
        compiled = backend.get_compiled_circuit(ghz(2).measure_all())
        handle = backend.process_circuits([compiled], n_shots=10, postprocess=True)[0]
        with pytest.raises(InputError, match="postprocess=False to mitigate"):
            backend.get_mitigated_distribution(handle)


def test_predicted_fidelity_ranks_circuits_as_the_noisy_emulator_measures_them(
    live_emulator_factory: Start,
) -> None:
    # GHZ states lose fidelity one for one with failed runs; random circuits, whose outcomes
    # are spread out, keep most of theirs. The success probability alone ranks these two
    # kinds the wrong way round; the fidelity it predicts ranks them as measured.
    circuits = [ghz(n) for n in (3, 4, 5, 6)] + [random_circuit(5, 3, s) for s in range(4)]
    live = with_metrics(live_emulator_factory, seed=1, noise=True)
    with IQMBackend(live.url, progress=False) as backend:
        compiled = backend.get_compiled_circuits([c.copy().measure_all() for c in circuits])
        predicted = [backend.estimated_fidelity(c) for c in compiled]
        handles = backend.process_circuits(compiled, n_shots=4000)
        results = backend.get_results(handles)
    measured = []
    for circuit, result in zip(circuits, results, strict=True):
        ideal = ideal_probabilities(circuit)
        counts = result.get_counts([Bit("c", i) for i in range(circuit.n_qubits)])
        shots = sum(counts.values())
        overlap = sum(math.sqrt(ideal.get(x, 0.0) * n / shots) for x, n in counts.items())
        measured.append(overlap**2)
    ranks = [np.argsort(np.argsort(values)) for values in (predicted, measured)]
    assert float(np.corrcoef(*ranks)[0, 1]) >= 0.8, (predicted, measured)
