"""Star chips in the compiler: the fully connected view, MOVE insertion, the noise-aware pass.

MOVE insertion is checked three ways on every circuit: the emulator's ``strict`` MOVE
validation (the server's rules) accepts it, a state-vector simulation gives exactly the
state of the circuit without MOVEs (the resonator back in |0>), and it never uses more MOVEs
than one sandwich per CZ.
"""

from __future__ import annotations

import functools
import random
import uuid
from typing import Any

import numpy as np
import pytest
from pytket.circuit import Circuit, Node, OpType

from iqm_async import compiler
from iqm_async.compiler import StarDevice, insert_moves, move_count, naive_insert_moves
from iqm_async.emulator.architectures import Architecture, load_architecture
from iqm_async.emulator.architectures import _from_json as architecture_from_json
from iqm_async.emulator.simulator import prx_matrix
from iqm_async.emulator.validation import RequestRejected, validate_run_request
from iqm_async.errors import CircuitValidationError, ConfigurationError
from iqm_async.models import Circuit as IQMCircuit
from iqm_async.models import DynamicQuantumArchitecture, Instruction, RunRequest
from iqm_async.quality import QualityMetrics

Op = tuple[str, tuple[str, ...], dict[str, Any]]
R = "CR1"


def star_dqa(n: int, *, movable: int | None = None, direct: tuple[str, str] | None = None) -> Any:
    """A star DQA with qubits QB1..QBn; only the first ``movable`` qubits have a move."""
    qubits = [f"QB{i}" for i in range(1, n + 1)]
    moving = qubits[: n if movable is None else movable]
    cz = [[q, R] for q in qubits] + ([list(direct)] if direct else [])

    def gate(loci: list[list[str]]) -> dict[str, Any]:
        return {"implementations": {"x": {"loci": loci}}, "default_implementation": "x"}

    return DynamicQuantumArchitecture.model_validate(
        {
            "calibration_set_id": str(uuid.UUID(int=n)),
            "qubits": qubits,
            "computational_resonators": [R],
            "gates": {
                "prx": gate([[q] for q in qubits]),
                "cz": gate(cz),
                "move": gate([[q, R] for q in moving]),
                "measure": gate([[q] for q in qubits]),
            },
        }
    )


_CHIPS: dict[int, Architecture] = {}  # by id(): a StarDevice holds dicts


def star_of(n: int, metrics: QualityMetrics | None = None, **kwargs: Any) -> StarDevice:
    """The star of :func:`star_dqa`, remembered with its emulator chip for validation."""
    dqa = star_dqa(n, **kwargs)
    star = compiler.star_device(dqa, metrics)
    assert star is not None
    _CHIPS[id(star)] = architecture_from_json("test", dqa.model_dump(mode="json"))
    return star


def prx(q: str, angle: float = 0.25, phase: float = 0.0) -> Op:
    return ("prx", (q,), {"angle_t": angle, "phase_t": phase})


def cz(a: str, b: str) -> Op:
    return ("cz", (a, b), {})


def measure(q: str) -> Op:
    return ("measure", (q,), {"key": f"m_{q}"})


def state_of(ops: list[Op], qubits: list[str]) -> np.ndarray:
    """The state after the unitary part of ``ops`` (move = swap with the resonator)."""
    index = {q: i for i, q in enumerate(qubits)}
    n = len(qubits)
    state = np.zeros((2,) * n, dtype=np.complex128)
    state[(0,) * n] = 1.0
    for name, locus, args in ops:
        axes = [index[q] for q in locus]
        if name == "prx":
            state = np.moveaxis(
                np.tensordot(prx_matrix(args["angle_t"], args["phase_t"]), state, ([1], [axes[0]])),
                0,
                axes[0],
            )
        elif name == "cz":
            where: list[Any] = [slice(None)] * n
            where[axes[0]] = where[axes[1]] = 1
            state[tuple(where)] *= -1
        elif name == "move":
            state = np.swapaxes(state, axes[0], axes[1]).copy()
    return state.reshape(-1)


def check_rewrite(ops: list[Op], star: StarDevice) -> list[Op]:
    """insert_moves(ops): strict-valid on the emulator, same state, at most naive MOVEs."""
    rewritten = insert_moves(ops, star)
    circuit = IQMCircuit(
        name="c",
        instructions=tuple(Instruction(name=n, qubits=q, args=a) for n, q, a in rewritten),
    )
    validate_run_request(RunRequest(circuits=[circuit], shots=1), _CHIPS[id(star)], max_shots=10)
    qubits = list(star.qubits)
    before = np.kron(state_of(ops, qubits), [1.0, 0.0])  # the resonator last, in |0>
    after = state_of(rewritten, [*qubits, star.resonator])
    np.testing.assert_allclose(after, before, atol=1e-9)
    assert [o for o in rewritten if o[0] == "measure"] == [o for o in ops if o[0] == "measure"]
    assert move_count(rewritten) <= move_count(naive_insert_moves(ops, star))
    return rewritten


def random_ops(rng: random.Random, star: StarDevice, n_ops: int) -> list[Op]:
    qubits = list(star.qubits)
    ops: list[Op] = []
    for _ in range(n_ops):
        kind = rng.random()
        if kind < 0.45:
            a, b = rng.sample(qubits, 2)
            ops.append(cz(a, b))
        elif kind < 0.95:
            ops.append(prx(rng.choice(qubits), rng.random(), rng.random()))
        else:
            ops.append(("barrier", tuple(rng.sample(qubits, 2)), {}))
    return ops + [measure(q) for q in qubits]


def test_star_device_reads_the_resonator_loci() -> None:
    star = star_of(4, movable=2)
    assert star.resonator == R and star.qubits == ("QB1", "QB2", "QB3", "QB4")
    assert star.movable == {"QB1", "QB2"} and star.cz_capable == set(star.qubits)
    assert star.resolutions("QB1", "QB3") == ["QB1"] and star.couples("QB3", "QB1")
    assert not star.couples("QB3", "QB4")  # neither can be moved
    assert compiler.star_device(load_architecture("garnet").dqa) is None


def test_star_architecture_is_every_pair_that_can_interact() -> None:
    full = compiler.star_architecture(star_of(6))
    assert len(full.coupling) == 15 and len(full.nodes) == 6
    partial = compiler.star_architecture(star_of(4, movable=1))
    pairs = {frozenset(str(n) for n in pair) for pair in partial.coupling}
    assert pairs == {frozenset({"node[0]", f"node[{i}]"}) for i in (1, 2, 3)}


def test_more_than_one_resonator_is_refused() -> None:
    raw = star_dqa(3).model_dump(mode="json")
    raw["computational_resonators"] = ["CR1", "CR2"]
    with pytest.raises(ConfigurationError, match="2 computational resonators"):
        compiler.star_device(DynamicQuantumArchitecture.model_validate(raw))


def test_a_resonator_without_moves_is_refused() -> None:
    raw = star_dqa(3).model_dump(mode="json")
    del raw["gates"]["move"]
    with pytest.raises(ConfigurationError, match="no calibrated move and cz loci"):
        compiler.star_device(DynamicQuantumArchitecture.model_validate(raw))


def test_consecutive_czs_sharing_a_qubit_need_one_sandwich() -> None:
    star = star_of(4)
    ops = [cz("QB1", "QB2"), cz("QB3", "QB1"), cz("QB1", "QB4"), *map(measure, star.qubits)]
    out = check_rewrite(ops, star)
    assert out[:5] == [
        ("move", ("QB1", R), {}),
        cz("QB2", R),
        cz("QB3", R),
        cz("QB4", R),
        ("move", ("QB1", R), {}),
    ]
    assert move_count(naive_insert_moves(ops, star)) == 6


def test_czs_of_one_qubit_are_gathered_across_other_gates() -> None:
    # The prx on QB3 sits between QB1's CZs in the given order; it touches neither CZ's
    # moved qubit, and CZs commute, so QB1 stays in the resonator for all three.
    star = star_of(4)
    ops = [cz("QB1", "QB2"), prx("QB3"), cz("QB2", "QB3"), cz("QB1", "QB3"), cz("QB1", "QB4")]
    out = check_rewrite([*ops, *map(measure, star.qubits)], star)
    assert move_count(out) == 4  # QB1 in for 3 CZs, then one sandwich for CZ(QB2, QB3)


def test_a_gate_on_the_moved_qubit_closes_the_sandwich() -> None:
    star = star_of(3)
    ops = [cz("QB1", "QB2"), prx("QB1"), cz("QB1", "QB3"), *map(measure, star.qubits)]
    out = check_rewrite(ops, star)
    assert move_count(out) == 4


def test_the_moved_qubit_is_one_that_can_be_moved() -> None:
    star = star_of(3, movable=1)  # only QB1 has a move
    ops = [cz("QB2", "QB1"), cz("QB3", "QB1"), *map(measure, star.qubits)]
    out = check_rewrite(ops, star)
    assert {o[1][0] for o in out if o[0] == "move"} == {"QB1"} and move_count(out) == 2


def test_with_metrics_the_lower_error_qubit_is_moved() -> None:
    # One CZ: moving either qubit costs two MOVEs; the error figures decide.
    metrics = QualityMetrics(
        move_fidelity={("QB1", R): 0.90, ("QB2", R): 0.99},
        cz_fidelity={("QB1", R): 0.99, ("QB2", R): 0.99},
    )
    star = star_of(2, metrics)
    out = check_rewrite([cz("QB1", "QB2"), measure("QB1"), measure("QB2")], star)
    assert out[0] == ("move", ("QB2", R), {})
    plain = check_rewrite([cz("QB1", "QB2"), measure("QB1"), measure("QB2")], star_of(2))
    assert plain[0] == ("move", ("QB1", R), {})  # no figures: the first in the chip's order


def test_a_direct_coupler_is_used_as_is() -> None:
    star = star_of(3, direct=("QB2", "QB3"))
    out = check_rewrite([cz("QB2", "QB3"), *map(measure, star.qubits)], star)
    assert out[0] == cz("QB2", "QB3") and move_count(out) == 0


@pytest.mark.parametrize("seed", range(40))
def test_random_circuits_are_valid_and_equivalent(seed: int) -> None:
    rng = random.Random(seed)
    star = star_of(rng.randint(2, 6), movable=None if seed % 3 else 2)
    ops = random_ops(rng, star, rng.randint(5, 60))
    ops = [o for o in ops if o[0] != "cz" or star.couples(*o[1])]
    check_rewrite(ops, star)
    assert insert_moves(ops, star) == insert_moves(ops, star)  # deterministic


def test_an_operation_on_the_resonator_is_refused() -> None:
    with pytest.raises(CircuitValidationError, match=r"Operation 1 \(cz\) acts on the computa"):
        insert_moves([prx("QB1"), cz("QB1", R)], star_of(2))


def test_a_cz_that_cannot_run_through_the_resonator_is_refused() -> None:
    with pytest.raises(CircuitValidationError, match=r"CZ on \(QB2, QB3\), which cannot run"):
        insert_moves([cz("QB2", "QB3")], star_of(3, movable=1))
    with pytest.raises(CircuitValidationError, match=r"CZ on \(QB2, QB3\), which cannot run"):
        naive_insert_moves([cz("QB2", "QB3")], star_of(3, movable=1))


def ghz(n: int) -> Circuit:
    circuit = Circuit(n).H(0)
    for i in range(n - 1):
        circuit.CX(i, i + 1)
    return circuit.measure_all()


@pytest.mark.parametrize("level", [0, 1, 2])
def test_compiled_circuits_translate_with_moves(level: int) -> None:
    arch = load_architecture("deneb")
    star = compiler.star_device(arch.dqa)
    assert star is not None
    compiled = compiler.compile_circuits([ghz(6)], compiler.star_architecture(star), level)[0]
    rewrite = functools.partial(insert_moves, star=star)
    wire, layout = compiler.translate(compiled, rewrite=rewrite)
    json_wire, json_layout = compiler.translate_json(compiled, rewrite=rewrite)
    assert json_layout == layout and "CR1" in json_wire.qubits
    assert IQMCircuit.model_validate_json(json_wire.json).instructions == wire.instructions
    validate_run_request(RunRequest(circuits=[wire], shots=1), arch, max_shots=10)
    assert any(i.name == "move" for i in wire.instructions)
    assert all(R in i.qubits for i in wire.instructions if i.name == "cz")


def test_noise_aware_pass_places_the_cz_on_the_best_pair() -> None:
    # QB3 and QB4 have the best MOVE and CZ figures: a Bell pair belongs there.
    fidelity = {"QB1": 0.95, "QB2": 0.96, "QB3": 0.999, "QB4": 0.998}
    metrics = QualityMetrics(
        move_fidelity={(q, R): f for q, f in fidelity.items()},
        cz_fidelity={(q, R): f for q, f in fidelity.items()},
    )
    star = compiler.star_device(star_dqa(4), metrics)
    assert star is not None
    errors = compiler.star_link_errors(star)
    assert errors[("QB3", "QB4")] == errors[("QB4", "QB3")]
    assert errors[("QB3", "QB4")] == pytest.approx(1 - 0.999**2 * 0.998)  # move QB3, cz QB4
    bell = Circuit(2).H(0).CX(0, 1).measure_all()
    for level in (1, 2):
        compiled = bell.copy()
        compiler.star_compilation_pass(star, level).apply(compiled)
        cz_nodes = {q for c in compiled.get_commands() if c.op.type == OpType.CZ for q in c.qubits}
        assert cz_nodes == {Node(2), Node(3)}


def test_without_metrics_the_star_pass_is_the_default_pass() -> None:
    star = star_of(4)
    expected = compiler.default_compilation_pass(compiler.star_architecture(star), 1)
    assert compiler.star_compilation_pass(star, 1).to_dict() == expected.to_dict()
    with pytest.raises(ConfigurationError, match="optimisation_level must be 0, 1 or 2"):
        compiler.star_compilation_pass(star, 3)


def test_emulator_rejects_a_bad_sandwich_naming_the_instruction() -> None:
    bad = IQMCircuit(
        name="bad",
        instructions=(
            Instruction(name="move", qubits=("QB1", R)),
            Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0.0}),
        ),
    )
    with pytest.raises(
        RequestRejected, match=r"circuits.0.instructions.1: 'prx' acts on \['QB1'\]"
    ):
        validate_run_request(
            RunRequest(circuits=[bad], shots=1), load_architecture("sirius"), max_shots=1
        )


def test_a_star_whose_qubits_cannot_interact_is_refused() -> None:
    lonely = StarDevice(
        resonator=R,
        qubits=("QB1", "QB2"),
        movable=frozenset({"QB1"}),
        cz_capable=frozenset({"QB1"}),
    )
    with pytest.raises(ConfigurationError, match="No two qubits can interact through resonator"):
        compiler.star_architecture(lonely)
