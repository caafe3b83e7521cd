"""IQMBackend on star chips (qubits around a computational resonator), on both server APIs.

The emulator checks every submitted circuit with the server's ``strict`` MOVE validation, so
a job that completes is a job whose MOVEs were valid; the tests also read the MOVEs back
from the job's request echo. Distributions are compared with the ideal ones with a bound a
correct sampler exceeds with probability 1e-6 (``tvd_bound``); the 20,000-shot figures are
``benchmarks/star_moves.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from emulator_fixtures import LiveEmulator
from pytket.circuit import Circuit, CustomGateDef, OpType, Qubit
from sample_circuits import (
    ghz,
    ideal_probabilities,
    periodic_qft,
    star_random_circuit,
    total_variation_distance,
    tvd_bound,
)

from iqm_async.backend import IQMBackend
from iqm_async.emulator import EmulatorConfig
from iqm_async.errors import CircuitValidationError, ConfigurationError

SHOTS = 4000
APIS = {
    "cocos": {"api": "cocos"},
    "iqm-server": {"api": "iqm-server", "quantum_computer": "deneb"},
}


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


@pytest.fixture(scope="module")
def stars() -> Iterator[LiveEmulator]:
    from iqm_async.emulator import running_emulator_with_state

    config = EmulatorConfig(
        seed=18, parallel=True, job_seconds=0.0, quantum_computers=("deneb", "sirius")
    )
    with running_emulator_with_state(config) as (url, emulator):
        yield LiveEmulator(url, emulator)


def backend_for(live: LiveEmulator, options: dict[str, Any]) -> IQMBackend:
    return IQMBackend(live.url, progress=False, client_options=options)


def submitted_moves(live: LiveEmulator) -> list[int]:
    """MOVE count of every circuit the emulator accepted, newest job last."""
    return [
        sum(1 for inst in circuit.instructions if inst.name == "move")
        for job in live.emulator.jobs.values()
        for circuit in job.circuits
    ]


@pytest.mark.parametrize("api", APIS)
def test_backend_info_shows_the_qubits_fully_connected(stars: LiveEmulator, api: str) -> None:
    with backend_for(stars, APIS[api]) as backend:
        info = backend.backend_info
        assert len(info.architecture.nodes) == 6 and len(info.architecture.coupling) == 15
        assert info.misc["computational_resonators"] == ["CR1"]
        assert info.misc["resonator_qubits"] == [f"QB{i}" for i in range(1, 7)]
        assert {OpType.PhasedX, OpType.CZ, OpType.Measure} <= info.gate_set
        predicates = backend.required_predicates
        compiled = backend.get_compiled_circuit(ghz(6).measure_all(), 0)
        assert all(p.verify(compiled) for p in predicates)
        pass_ = backend.default_compilation_pass(1)
        again = ghz(6).measure_all()
        pass_.apply(again)
        assert all(p.verify(again) for p in predicates)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("make", [ghz, periodic_qft], ids=["ghz6", "qft6"])
def test_ghz_and_qft_on_the_six_qubit_star(
    stars: LiveEmulator, api: str, make: Callable[[int], Circuit]
) -> None:
    circuit = make(6)
    probabilities = ideal_probabilities(circuit)
    with backend_for(stars, APIS[api]) as backend:
        compiled = backend.get_compiled_circuit(circuit.copy().measure_all())
        handle = backend.process_circuits([compiled], n_shots=SHOTS)[0]
        counts = backend.get_result(handle, timeout=60).get_counts()
        request = backend.get_metadata(handle).request
    assert sum(counts.values()) == SHOTS
    assert total_variation_distance(counts, probabilities) < tvd_bound(probabilities, SHOTS)
    mapped = {m.physical_name for m in request.qubit_mapping}
    assert "CR1" in mapped and submitted_moves(stars)[-1] > 0


def test_twenty_random_circuits_on_the_sixteen_qubit_star(stars: LiveEmulator) -> None:
    circuits = [star_random_circuit(6 + seed % 7, seed) for seed in range(20)]
    measured = [c.copy().measure_all() for c in circuits]
    options = {"api": "iqm-server", "quantum_computer": "sirius"}
    before = len(submitted_moves(stars))
    with backend_for(stars, options) as backend:
        compiled = backend.get_compiled_circuits(measured, optimisation_level=1)
        results = backend.run_circuits(compiled, n_shots=SHOTS, timeout=120)
    for circuit, result in zip(circuits, results, strict=True):
        probabilities = ideal_probabilities(circuit)
        distance = total_variation_distance(result.get_counts(), probabilities)
        assert distance < tvd_bound(probabilities, SHOTS), circuit.name
    moves = submitted_moves(stars)[before:]
    assert len(moves) == 20 and all(m > 0 for m in moves)


def test_a_circuit_on_the_resonator_is_refused(stars: LiveEmulator) -> None:
    circuit = Circuit(name="direct")
    a, resonator = Qubit("q", 0), Qubit("CR1", 0)
    circuit.add_qubit(a)
    circuit.add_qubit(resonator)
    circuit.CZ(a, resonator)
    with backend_for(stars, APIS["cocos"]) as backend:
        jobs = len(stars.emulator.jobs)
        with pytest.raises(CircuitValidationError) as caught:
            backend.process_circuits([circuit], n_shots=10)
    message = str(caught.value)
    assert "Circuit 0 (direct) acts on the computational resonator 'CR1' directly" in message
    assert "write circuits on qubits only" in message
    assert len(stars.emulator.jobs) == jobs  # nothing sent


def test_a_move_gate_in_pytket_is_refused(stars: LiveEmulator) -> None:
    move = CustomGateDef.define("MOVE", Circuit(2).SWAP(0, 1), [])
    circuit = Circuit(2, name="moving").add_custom_gate(move, [], [0, 1])
    with (
        backend_for(stars, APIS["cocos"]) as backend,
        pytest.raises(CircuitValidationError, match=r"has a 'MOVE' gate on \['q\[0\]', 'q\[1\]'\]"),
    ):
        backend.process_circuits([circuit], n_shots=10)


def test_arch_override_on_a_star(stars: LiveEmulator) -> None:
    with IQMBackend(
        stars.url, [["QB1", "QB2"], ["QB2", "QB3"]], api="cocos", progress=False
    ) as backend:
        assert len(backend.backend_info.architecture.coupling) == 2
        bell = Circuit(2).H(0).CX(0, 1).measure_all()
        counts = backend.run_circuit(backend.get_compiled_circuit(bell), n_shots=200).get_counts()
    assert set(counts) <= {(0, 0), (1, 1)}
    # Construction fetches the architecture, so the override is checked there.
    with pytest.raises(ConfigurationError, match=r"\['QB1', 'CR1'\] is not a pair of this star"):
        IQMBackend(stars.url, [["QB1", "CR1"]], api="cocos", progress=False)


def test_arch_override_pairs_are_checked_against_the_star() -> None:
    from test_compiler_star import star_dqa

    from iqm_async.backend._star import device_architecture

    dqa = star_dqa(3, movable=1)  # QB2 and QB3 cannot be moved: they cannot interact
    architecture, star = device_architecture(dqa, [["QB1", "QB3"]])
    assert star is not None and len(architecture.coupling) == 1
    with pytest.raises(ConfigurationError, match="QB2 and QB3 cannot run a CZ through resonator"):
        device_architecture(dqa, [["QB2", "QB3"]])
    with pytest.raises(ConfigurationError, match="arch names no qubit pairs"):
        device_architecture(dqa, [])


def test_a_whole_star_with_metrics_compiles_with_the_noise_aware_star_pass() -> None:
    from iqm_async import compiler
    from iqm_async.backend._async import Device
    from iqm_async.emulator.architectures import load_architecture
    from iqm_async.metadata import node_to_qubit_name

    chip = load_architecture("deneb")
    assert chip.metrics is not None
    with_metrics = Device.of(chip.dqa, None, chip.metrics)
    assert with_metrics.star is not None and with_metrics.whole_star
    expected = compiler.star_compilation_pass(with_metrics.star, 2).to_dict()
    assert with_metrics.compilation_pass(2).to_dict() == expected
    # The best pair is used for a two-qubit circuit: its composed error is the lowest.
    bell = Circuit(2, 2).H(0).CX(0, 1).measure_all()
    (compiled,) = with_metrics.compile([bell], 2)
    errors = compiler.star_link_errors(with_metrics.star)
    used = tuple(sorted(node_to_qubit_name(q) for q in compiled.qubits))
    best = min(errors.values())
    assert errors.get(used, errors.get(used[::-1])) == best
    # Without metrics, and with an arch override, the plain pass on the shown couplings.
    plain = Device.of(chip.dqa)
    assert (
        plain.compilation_pass(2).to_dict()
        == compiler.default_compilation_pass(plain.architecture, 2).to_dict()
    )
    part = Device.of(chip.dqa, [["QB1", "QB2"]], chip.metrics)
    assert not part.whole_star
