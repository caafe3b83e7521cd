"""Passes, predicates and architectures of iqm_async.compiler (no event loop, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytket.circuit import Circuit, Node, OpType
from pytket.passes import (
    BasePass,
    CustomPass,
    DecomposeBoxes,
    DefaultMappingPass,
    SequencePass,
    SynthesiseTket,
)
from pytket.predicates import CompilationUnit
from sample_circuits import garnet
from test_compiler_helpers import assert_same_unitary, random_circuit

from iqm_async.compiler import (
    architecture_from_dqa,
    default_compilation_pass,
    gate_set,
    prepare_circuit,
    rebase_pass,
    required_predicates,
)
from iqm_async.compiler._mapping import CANDIDATES_PER_LEVEL, candidate_passes, fewest_cz
from iqm_async.compiler._passes import finishing_passes, pass_from_dict
from iqm_async.errors import ConfigurationError
from iqm_async.models import DynamicQuantumArchitecture

DATA = Path(__file__).parent / "data"
ARCH = garnet(10)  # 10 qubits keep the unitaries small (<= 1024 x 1024)


@pytest.fixture
def dqa() -> DynamicQuantumArchitecture:
    return DynamicQuantumArchitecture.model_validate(
        json.loads((DATA / "dynamic_quantum_architecture.json").read_text())
    )


def test_gate_set_is_native_gates_plus_barrier(dqa: DynamicQuantumArchitecture) -> None:
    native = {OpType.PhasedX, OpType.CZ, OpType.Measure, OpType.Barrier}
    assert gate_set() == native
    assert gate_set(dqa) == native
    without_cz = dqa.model_copy(update={"gates": {k: v for k, v in dqa.gates.items() if k != "cz"}})
    assert gate_set(without_cz) == native - {OpType.CZ}


def test_rebase_keeps_measure_and_barrier() -> None:
    circuit = Circuit(2, 2).H(0).CX(0, 1).add_barrier([0, 1]).Measure(0, 0).Measure(1, 1)
    rebase_pass().apply(circuit)
    types = {cmd.op.type for cmd in circuit.get_commands()}
    assert types == {OpType.PhasedX, OpType.CZ, OpType.Barrier, OpType.Measure}


def test_architecture_from_dqa(dqa: DynamicQuantumArchitecture) -> None:
    arch = architecture_from_dqa(dqa)
    assert {frozenset(edge) for edge in arch.coupling} == {
        frozenset({Node(0), Node(2)}),
        frozenset({Node(1), Node(2)}),
    }
    override = architecture_from_dqa(dqa, [("QB1", "QB2")])
    assert [set(e) for e in override.coupling] == [{Node(0), Node(1)}]


@pytest.mark.parametrize(
    ("couplings", "says"),
    [([("QB1", "QB9")], "QB9"), ([("QB1",)], "pair"), ([("QB1", "QB1")], "pair"), ([], "no qubit")],
)
def test_architecture_override_is_checked(
    dqa: DynamicQuantumArchitecture, couplings: list[tuple[str, ...]], says: str
) -> None:
    with pytest.raises(ConfigurationError, match=says):
        architecture_from_dqa(dqa, couplings)


def test_level_outside_range_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="0, 1 or 2"):
        default_compilation_pass(ARCH, 3)


def test_pass_accepts_a_dqa(dqa: DynamicQuantumArchitecture) -> None:
    circuit = Circuit(3).H(0).CX(0, 1).CX(1, 2).measure_all()
    default_compilation_pass(dqa, 1).apply(circuit)
    assert all(p.verify(circuit) for p in required_predicates(dqa))


def test_predicates_name_every_requirement() -> None:
    names = {type(p).__name__ for p in required_predicates(ARCH)}
    assert names == {
        "NoClassicalControlPredicate",
        "NoFastFeedforwardPredicate",
        "NoMidMeasurePredicate",
        "NoSymbolsPredicate",
        "GateSetPredicate",
        "ConnectivityPredicate",
    }
    mid_measure = Circuit(2, 1).Measure(0, 0).H(0)
    assert not all(p.verify(mid_measure) for p in required_predicates(ARCH))


def test_barrier_survives_compilation() -> None:
    circuit = Circuit(2, 2).H(0).add_barrier([0, 1]).CX(0, 1).measure_all()
    default_compilation_pass(ARCH, 2).apply(circuit)
    assert any(cmd.op.type == OpType.Barrier for cmd in circuit.get_commands())
    assert all(p.verify(circuit) for p in required_predicates(ARCH))


def test_classical_registers_are_kept() -> None:
    circuit = Circuit(2).H(0).CX(0, 1)
    a, b = circuit.add_c_register("a", 1), circuit.add_c_register("b", 1)
    circuit.Measure(0, a[0]).Measure(1, b[0])
    default_compilation_pass(ARCH, 2).apply(circuit)
    assert {bit.reg_name for bit in circuit.bits} == {"a", "b"}


@pytest.mark.parametrize("level", [0, 1, 2])
def test_fifty_random_circuits_keep_their_unitary(level: int) -> None:
    """Must show: every predicate holds and, placement undone, the unitary is unchanged."""
    pass_ = default_compilation_pass(ARCH, level)
    predicates = required_predicates(ARCH)
    for seed in range(50):
        original = random_circuit(2 + seed % 5, 2 + seed % 4, seed=1000 * level + seed)
        unit = CompilationUnit(original.copy())
        pass_.apply(unit)
        compiled = unit.circuit
        failed = [type(p).__name__ for p in predicates if not p.verify(compiled)]
        assert not failed, f"seed {seed}: {failed}"
        assert_same_unitary(original, compiled, unit.initial_map, unit.final_map)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_measured_circuits_satisfy_predicates(level: int) -> None:
    pass_ = default_compilation_pass(ARCH, level)
    for seed in range(10):
        circuit = random_circuit(3 + seed % 4, 3, seed=seed).measure_all()
        pass_.apply(circuit)
        assert all(p.verify(circuit) for p in required_predicates(ARCH)), seed


def test_compiling_twice_gives_the_same_circuit() -> None:
    # A 10-qubit circuit on 20 qubits: pytket's default placement stops its search on a wall
    # clock, ours on a match count, so two compiles (fresh pass objects) must agree exactly.
    circuit = random_circuit(10, 8, seed=7)
    first, second = circuit.copy(), circuit.copy()
    default_compilation_pass(garnet(), 1).apply(first)
    default_compilation_pass(garnet(), 1).apply(second)
    assert first == second
    assert first.get_commands() == second.get_commands()


def _graph_placements(pass_dict: object) -> list[dict[str, object]]:
    if isinstance(pass_dict, dict):
        found = [pass_dict] if pass_dict.get("type") == "GraphPlacement" else []
        return found + [p for v in pass_dict.values() for p in _graph_placements(v)]
    if isinstance(pass_dict, list):
        return [p for v in pass_dict for p in _graph_placements(v)]
    return []


@pytest.mark.parametrize("level", [0, 1, 2])
def test_every_graph_placement_is_bounded_by_matches_not_time(level: int) -> None:
    # Guard against a refactor back to DefaultMappingPass (whose placement is time-bounded).
    text = json.dumps(default_compilation_pass(ARCH, level).to_dict())
    assert json.dumps(DefaultMappingPass(ARCH).to_dict()) not in text
    candidates = candidate_passes(ARCH, level, finishing_passes)
    assert len(candidates) == CANDIDATES_PER_LEVEL[level]
    graphs = _graph_placements([c.to_dict() for c in candidates])
    assert graphs
    assert all(g["timeout"] == 600_000 and g["matches"] == 100 for g in graphs)


def _appending(gate: OpType, count: int = 1) -> BasePass:
    """A stand-in candidate: appends ``count`` gates of one type on qubits 0 and 1."""

    def transform(circuit: Circuit) -> Circuit:
        out = circuit.copy()
        for _ in range(count):
            out.add_gate(gate, [0, 1] if gate == OpType.CZ else [0])
        return out

    return CustomPass(transform)


def test_fewest_cz_keeps_the_fewest_and_the_earliest_of_equals() -> None:
    circuit = Circuit(2).CZ(0, 1)
    candidates = [_appending(OpType.CZ, 2), _appending(OpType.H), _appending(OpType.Z)]
    chosen, (initial, final) = fewest_cz(candidates, circuit)
    assert chosen.n_gates_of_type(OpType.CZ) == 1
    assert chosen.get_commands()[-1].op.type == OpType.H  # the tie went to the earlier one
    assert dict(initial) == dict(final) == {q: q for q in circuit.qubits}
    assert circuit == Circuit(2).CZ(0, 1)  # input untouched
    again, _ = fewest_cz(candidates, circuit)
    assert again == chosen


def test_compiled_circuit_has_the_fewest_cz_of_the_candidates() -> None:
    circuit = random_circuit(8, 6, seed=11)
    compiled = circuit.copy()
    default_compilation_pass(ARCH, 1).apply(compiled)
    prepared = circuit.copy()
    SequencePass([DecomposeBoxes(), SynthesiseTket()]).apply(prepared)
    counts = []
    for candidate in candidate_passes(ARCH, 1, finishing_passes):
        routed = prepared.copy()
        candidate.apply(routed)
        counts.append(routed.n_gates_of_type(OpType.CZ))
    assert compiled.n_gates_of_type(OpType.CZ) == min(counts)


def test_pass_dict_round_trip_needs_pass_from_dict() -> None:
    pass_ = default_compilation_pass(ARCH, 2)
    with pytest.raises(RuntimeError, match="CustomPassMap"):
        BasePass.from_dict(pass_.to_dict())
    rebuilt = pass_from_dict(json.loads(json.dumps(pass_.to_dict())))
    circuit = random_circuit(6, 4, seed=3)
    first, second = circuit.copy(), circuit.copy()
    pass_.apply(first)
    rebuilt.apply(second)
    assert first == second


def test_prepare_circuit_never_mutates_and_keeps_options_apart() -> None:
    circuit = Circuit(2, 2).H(0).CX(0, 1).X(1).measure_all()
    default_compilation_pass(ARCH, 1).apply(circuit)
    before = circuit.copy()
    plain, no_pp = prepare_circuit(circuit)
    assert no_pp is None and plain == before and plain is not circuit
    simplified, no_pp = prepare_circuit(circuit, simplify_initial=True)
    assert no_pp is None and circuit == before
    assert simplified != before  # SimplifyInitial ran even without postprocess
    post, ppcirc = prepare_circuit(circuit, postprocess=True)
    assert ppcirc is not None and circuit == before
    assert all(p.verify(post) for p in required_predicates(ARCH)[3:])  # symbols, gates, arch
