"""A numpy state-vector simulator of IQM's native gates (no I/O, no event loop).

Only the qubits a circuit touches are simulated, so a 3-qubit circuit on a 20-qubit chip
costs 8 amplitudes, not a million. Conventions (PROTOCOL.md sections 2.1 and 5):

- ``prx(angle_t, phase_t)``: angles in full turns (1.0 = 2π);
  PRX(θ, φ) = RZ(φ)·RX(θ)·RZ(−φ) with θ = 2π·angle_t, φ = 2π·phase_t.
- ``cz``: symmetric controlled-Z. ``move(qubit, resonator)``: exchanges the states of the
  qubit and the resonator (the resonator is simulated as a two-level component).
- ``measure``: measurements that nothing acts on afterwards are sampled from the final
  distribution; a mid-circuit measurement (or one whose ``feedback_key`` is used) splits the
  state into branches, which keeps ``cc_prx`` and ``reset`` exact.
- ``barrier`` and ``delay`` do nothing here. Old names ``phased_rx``/``measurement`` work.

Results are in the V1 format: ``{key: [[bit per qubit of that measure] per shot]}``, keys in
the order the circuit measures them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..models import MEASURE_NAMES, PRX_NAMES, Circuit, Instruction
from ..statevector import State, apply_1q, apply_cz, ground_state, prx_matrix, swapped

__all__ = [
    "MAX_BRANCHES",
    "MAX_QUBITS",
    "SimulationError",
    "prx_matrix",
    "simulate",
    "simulate_arrays",
]

MAX_QUBITS = 20
"""Most qubits one circuit may touch (2**20 amplitudes = 16 MiB per branch)."""
MAX_BRANCHES = 256
"""Most measurement branches a circuit with mid-circuit measurements may create."""

# Branches whose squared norm falls below this are impossible outcomes and are dropped.
_ZERO_WEIGHT = 1e-14
# Operations that leave a qubit's state alone; they do not stop a measure being "final".
_PASSIVE = frozenset({"barrier", "delay"})


class SimulationError(ValueError):
    """The circuit is valid but beyond what the emulator simulates (too many qubits, ...)."""


@dataclass
class _Branch:
    """One measurement history: an unnormalised state and the bits measured so far."""

    state: State
    bits: dict[tuple[int, int], int] = field(default_factory=dict)  # (instr idx, pos) -> bit
    feedback: dict[tuple[str, int], int] = field(default_factory=dict)  # (fb key, qubit) -> bit

    @property
    def weight(self) -> float:
        return float(np.vdot(self.state, self.state).real)


def _project(state: State, axis: int, bit: int) -> State:
    """A copy of ``state`` with the amplitudes where ``axis`` reads ``1 - bit`` set to zero."""
    projected: State = state.copy()
    projected.reshape(1 << axis, 2, -1)[:, 1 - bit, :] = 0.0
    return projected


def _is_final_measure(index: int, circuit: Circuit, used_feedback: set[str]) -> bool:
    """True when nothing after instruction ``index`` changes the qubits it measures."""
    inst = circuit.instructions[index]
    if inst.args.get("feedback_key") in used_feedback:
        return False
    measured = set(inst.qubits)
    for later in circuit.instructions[index + 1 :]:
        if later.name in _PASSIVE or later.name in MEASURE_NAMES:
            continue
        if measured.intersection(later.qubits):
            return False
    return True


def _split(branches: list[_Branch], axis: int, record: tuple[int, int] | None) -> list[_Branch]:
    """Split every branch on the outcome of measuring ``axis``; drop impossible outcomes."""
    out: list[_Branch] = []
    for branch in branches:
        for bit in (0, 1):
            state = _project(branch.state, axis, bit)
            if float(np.vdot(state, state).real) <= _ZERO_WEIGHT:
                continue
            bits = dict(branch.bits)
            if record is not None:
                bits[record] = bit
            out.append(_Branch(state, bits, dict(branch.feedback)))
    if len(out) > MAX_BRANCHES:
        raise SimulationError(
            f"the circuit's mid-circuit measurements create more than {MAX_BRANCHES} branches; "
            "the emulator cannot simulate it. Measure fewer qubits before the end."
        )
    return out


def _run(circuit: Circuit, index_of: dict[str, int], final: set[int]) -> tuple[list[_Branch], int]:
    n_qubits = len(index_of)
    branches = [_Branch(ground_state(n_qubits))]
    for position, inst in enumerate(circuit.instructions):
        name = inst.name
        axes = [index_of[q] for q in inst.qubits]
        if name in PRX_NAMES:
            unitary = prx_matrix(inst.args["angle_t"], inst.args["phase_t"])
            for branch in branches:
                apply_1q(branch.state, unitary, axes[0])
        elif name == "cc_prx":
            unitary = prx_matrix(inst.args["angle_t"], inst.args["phase_t"])
            control = (inst.args["feedback_key"], index_of[inst.args["feedback_qubit"]])
            for branch in branches:
                if branch.feedback.get(control, 0):
                    apply_1q(branch.state, unitary, axes[0])
        elif name == "cz":
            for branch in branches:
                apply_cz(branch.state, n_qubits, axes[0], axes[1])
        elif name == "move":
            for branch in branches:
                branch.state = swapped(branch.state, n_qubits, axes[0], axes[1])
        elif name in MEASURE_NAMES and position not in final:
            feedback_key = inst.args.get("feedback_key")
            for slot, axis in enumerate(axes):
                branches = _split(branches, axis, (position, slot))
                if feedback_key is not None:
                    for branch in branches:
                        branch.feedback[(feedback_key, axis)] = branch.bits[(position, slot)]
        elif name == "reset":
            flip = prx_matrix(0.5, 0.0)  # an X up to a global phase
            for axis in axes:
                branches = _split(branches, axis, None)
                for branch in branches:
                    if np.any(branch.state.reshape(1 << axis, 2, -1)[:, 1, :]):
                        apply_1q(branch.state, flip, axis)
        # barrier, delay and final measurements change nothing during the run
    return branches, n_qubits


def _draw(
    weights: npt.NDArray[np.float64], size: int, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """``size`` indices drawn with probabilities proportional to ``weights``: the numbers
    ``rng.choice(len(weights), size, p=weights / weights.sum())`` gives, for a third of the
    time (the same steps without its argument checks, which cost more than the draw)."""
    cdf = weights.cumsum()
    cdf /= cdf[-1]
    drawn: npt.NDArray[np.intp] = cdf.searchsorted(rng.random(size), side="right")
    return drawn


def _sample_final(
    branch: _Branch,
    n_qubits: int,
    measured_axes: Sequence[int],
    shots: int,
    rng: np.random.Generator,
) -> npt.NDArray[np.int8]:
    """Sample ``shots`` outcomes of ``measured_axes`` (sorted) from one branch: shots x axes."""
    if not measured_axes or shots == 0:
        return np.zeros((shots, len(measured_axes)), dtype=np.int8)
    probs = np.abs(branch.state.reshape((2,) * n_qubits)) ** 2
    others = tuple(a for a in range(n_qubits) if a not in measured_axes)
    marginal = probs.sum(axis=others).reshape(-1) if others else probs.reshape(-1)
    outcomes = _draw(marginal, shots, rng)
    width = len(measured_axes)
    shifts = np.arange(width - 1, -1, -1)
    return ((outcomes[:, None] >> shifts[None, :]) & 1).astype(np.int8)


def simulate(
    circuit: Circuit,
    shots: int,
    rng: np.random.Generator,
    readout_errors: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, list[list[int]]]:
    """Run ``circuit`` for ``shots`` shots and return its measurements in the V1 format.

    Args:
        circuit: native-gate circuit; any qubit names (apply a qubit mapping first).
        shots: number of shots, at least 1.
        rng: the only source of randomness, so a seeded generator gives repeatable results.
        readout_errors: optional ``{qubit: (P(read 1 | 0), P(read 0 | 1))}``; each measured
            bit is flipped independently with the matching probability. Default: no noise.

    Returns:
        ``{key: [[bit, ...] per shot]}`` with one bit per qubit of that ``measure`` in its
        qubit order, keys in the order the circuit measures them.

    Raises:
        SimulationError: more than :data:`MAX_QUBITS` touched qubits, or too many branches.
        ValueError: ``shots`` below 1.
    """
    arrays = simulate_arrays(circuit, shots, rng, readout_errors)
    return {key: bits.tolist() for key, bits in arrays.items()}


def simulate_arrays(
    circuit: Circuit,
    shots: int,
    rng: np.random.Generator,
    readout_errors: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, npt.NDArray[np.int8]]:
    """:func:`simulate`, with each key's bits as a ``shots x qubits`` int8 array (compact:
    the emulator keeps results of many jobs in memory). Same arguments, same randomness.
    """
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    qubits = circuit.qubits
    if len(qubits) > MAX_QUBITS:
        raise SimulationError(
            f"circuit '{circuit.name}' touches {len(qubits)} qubits; the emulator simulates at "
            f"most {MAX_QUBITS} per circuit"
        )
    index_of = {name: axis for axis, name in enumerate(qubits)}
    measures, final = measurement_plan(circuit)
    branches, n_qubits = _run(circuit, index_of, final)
    return assemble_results(
        branches,
        np.array([b.weight for b in branches]),
        lambda branch, axes, count: _sample_final(branch, n_qubits, axes, count, rng),
        shots,
        measures,
        final,
        index_of,
        readout_errors,
        rng,
    )


Measures = list[tuple[int, Instruction]]
"""A circuit's measurements: (position in the circuit, the instruction)."""


def measurement_plan(circuit: Circuit) -> tuple[Measures, set[int]]:
    """The circuit's measurements, and the positions of those that are final (nothing acts
    on their qubits afterwards and no ``cc_prx`` reads them): those are sampled at the end."""
    used_feedback = {i.args["feedback_key"] for i in circuit.instructions if i.name == "cc_prx"}
    measures = [
        (position, inst)
        for position, inst in enumerate(circuit.instructions)
        if inst.name in MEASURE_NAMES
    ]
    final = {p for p, _ in measures if _is_final_measure(p, circuit, used_feedback)}
    return measures, final


def assemble_results(
    branches: Sequence[Any],
    weights: npt.NDArray[np.float64],
    sample_branch: Callable[[Any, list[int], int], npt.NDArray[np.int8]],
    shots: int,
    measures: Measures,
    final: set[int],
    index_of: Mapping[str, int],
    readout_errors: Mapping[str, tuple[float, float]] | None,
    rng: np.random.Generator,
) -> dict[str, npt.NDArray[np.int8]]:
    """Each measurement key's ``shots x qubits`` bits: shots split over the branches by
    weight, final measurements sampled per branch (``sample_branch(branch, axes, count)``),
    mid-circuit ones read from the branch's recorded bits, then readout errors applied."""
    final_axes = sorted({index_of[q] for p, inst in measures if p in final for q in inst.qubits})
    column_of = {axis: column for column, axis in enumerate(final_axes)}
    choice = _draw(weights, shots, rng) if len(branches) > 1 else np.zeros(shots, dtype=np.intp)
    final_bits = np.zeros((shots, len(final_axes)), dtype=np.int8)
    per_branch_shots = [np.flatnonzero(choice == b) for b in range(len(branches))]
    for branch, rows in zip(branches, per_branch_shots, strict=True):
        final_bits[rows] = sample_branch(branch, final_axes, rows.size)

    results: dict[str, npt.NDArray[np.int8]] = {}
    for position, inst in measures:
        bits = _measure_bits(position, inst, final, final_bits, column_of, index_of)
        if bits is None:
            bits = np.zeros((shots, len(inst.qubits)), dtype=np.int8)
            for branch, rows in zip(branches, per_branch_shots, strict=True):
                for slot in range(len(inst.qubits)):
                    bits[rows, slot] = branch.bits[(position, slot)]
        if readout_errors:
            _add_readout_noise(bits, inst.qubits, readout_errors, rng)
        results[inst.args["key"]] = bits
    return results


def _measure_bits(
    position: int,
    inst: Instruction,
    final: set[int],
    final_bits: npt.NDArray[np.int8],
    column_of: dict[int, int],
    index_of: Mapping[str, int],
) -> npt.NDArray[np.int8] | None:
    if position not in final:
        return None
    columns = [column_of[index_of[q]] for q in inst.qubits]
    bits: npt.NDArray[np.int8] = final_bits[:, columns].copy()
    return bits


def _add_readout_noise(
    bits: npt.NDArray[np.int8],
    qubits: Sequence[str],
    readout_errors: Mapping[str, tuple[float, float]],
    rng: np.random.Generator,
) -> None:
    for slot, qubit in enumerate(qubits):
        error = readout_errors.get(qubit)
        if error is None:
            continue
        p_flip = np.where(bits[:, slot] == 0, error[0], error[1])
        bits[:, slot] ^= (rng.random(bits.shape[0]) < p_flip).astype(np.int8)
