"""Noise from a chip's quality metrics, and a density-matrix simulator that applies it.

:func:`noise_model` turns :class:`~iqm_async.quality.QualityMetrics` into per-qubit and
per-coupler error figures; :func:`simulate_noisy` runs a circuit with them. The model:

- after every ``prx`` (and applied ``cc_prx``) on qubit q: a depolarising channel
  ``rho -> (1 - lam) rho + lam I/2 (x) Tr_q rho`` with ``lam = r d / (d - 1)``, ``d = 2``,
  ``r = 1 - F_prx(q)`` (qiskit-aer's convention, so the channel's average gate infidelity is
  the benchmarked ``r``);
- after every ``cz`` on (a, b): the two-qubit depolarising channel with ``d = 4``,
  ``r = 1 - F_cz(a, b)``; after every ``move``: the same with the single-MOVE infidelity
  ``1 - sqrt(F)`` of the published double-MOVE fidelity ``F``;
- each measured bit flips with P(1 | 0) = e01 or P(0 | 1) = e10 of its qubit;
- with ``idle``: while a qubit waits for others (the gates of a circuit run as early as their
  qubits allow; ``prx`` 20 ns, ``cz`` 40 ns, ``move`` 50 ns, a mid-circuit measurement
  1.5 µs; a ``delay`` idles its qubits; final measurements wait for the last gate), it
  relaxes with T1 and dephases with T2 (``rho_11 *= exp(-t/T1)``, coherences
  ``*= exp(-t/T2)``, T2 capped at 2 T1). Gate errors already contain the decay during a
  gate, so only idle time decays.

A figure the metrics lack (an absent qubit or coupler) is the worst one published for that
gate, never perfect; with none published at all, that gate is noiseless.

The simulator holds the density matrix of the qubits a circuit touches (at most
:data:`NOISY_MAX_QUBITS`, 4**n amplitudes), with one branch per mid-circuit measurement
outcome as the state-vector simulator does. A qubit joins the matrix when first acted on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..models import MEASURE_NAMES, PRX_NAMES, Circuit
from ..quality import QualityMetrics
from ..statevector import prx_matrix
from .simulator import (
    MAX_BRANCHES,
    SimulationError,
    _draw,
    assemble_results,
    measurement_plan,
)

__all__ = ["NOISY_MAX_QUBITS", "GateDurations", "NoiseModel", "noise_model", "simulate_noisy"]

NOISY_MAX_QUBITS = 10
"""Most qubits one circuit may touch when noise is on (a 4**10-entry matrix, 16 MiB)."""

_ZERO_WEIGHT = 1e-14
Rho = npt.NDArray[np.complex128]


@dataclass(frozen=True)
class GateDurations:
    """Durations in seconds used to schedule idle time (Garnet-like defaults)."""

    prx: float = 20e-9
    cz: float = 40e-9
    move: float = 50e-9
    measure: float = 1.5e-6


@dataclass(frozen=True)
class NoiseModel:
    """Per-component error figures, ready for :func:`simulate_noisy`.

    Attributes:
        prx: qubit -> depolarising parameter ``lam`` after each prx.
        cz: unordered coupler -> two-qubit depolarising ``lam`` after each cz.
        move: unordered (qubit, resonator) -> two-qubit depolarising ``lam`` after each move.
        readout: qubit -> (e01, e10).
        t1_s, t2_s: qubit -> relaxation and dephasing times in seconds (idle decay).
        idle: apply idle decay.
        durations: gate durations for the idle schedule.
        prx_default, cz_default, move_default: ``lam`` for components without a figure.
    """

    prx: Mapping[str, float] = field(default_factory=dict)
    cz: Mapping[frozenset[str], float] = field(default_factory=dict)
    move: Mapping[frozenset[str], float] = field(default_factory=dict)
    readout: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    t1_s: Mapping[str, float] = field(default_factory=dict)
    t2_s: Mapping[str, float] = field(default_factory=dict)
    idle: bool = False
    durations: GateDurations = field(default_factory=GateDurations)
    prx_default: float = 0.0
    cz_default: float = 0.0
    move_default: float = 0.0

    def prx_lambda(self, qubit: str) -> float:
        """``lam`` after a prx on ``qubit``."""
        return self.prx.get(qubit, self.prx_default)

    def pair_lambda(self, gate: str, a: str, b: str) -> float:
        """``lam`` after ``gate`` (cz or move) on ``a``, ``b``."""
        table, default = (
            (self.cz, self.cz_default) if gate == "cz" else (self.move, self.move_default)
        )
        return float(table.get(frozenset((a, b)), default))


def depolarizing_lambda(infidelity: float, n_qubits: int) -> float:
    """qiskit-aer's depolarising parameter for an average gate infidelity ``r``:
    ``r d / (d - 1)``, ``d = 2**n``, capped at 1 (fully depolarising)."""
    d = 1 << n_qubits
    return min(max(infidelity, 0.0) * d / (d - 1), 1.0)


def noise_model(metrics: QualityMetrics, *, idle: bool = False) -> NoiseModel:
    """The noise ``metrics`` imply (see the module docstring)."""
    prx = {
        q: depolarizing_lambda(1.0 - f.prx_fidelity, 1)
        for q, f in metrics.qubits.items()
        if f.prx_fidelity is not None
    }
    cz = {frozenset(p): depolarizing_lambda(1.0 - f, 2) for p, f in metrics.cz_fidelity.items()}
    move = {
        frozenset(p): depolarizing_lambda(1.0 - math.sqrt(f), 2)
        for p, f in metrics.move_fidelity.items()
    }
    readout: dict[str, tuple[float, float]] = {}
    worst = max(
        (q.readout_error for q in metrics.qubits.values() if q.readout_error is not None),
        default=None,
    )
    for q, f in metrics.qubits.items():
        e01, e10 = f.readout_error_0_to_1, f.readout_error_1_to_0
        if e01 is None or e10 is None:
            # Only the fidelity (or nothing) published: the mean error on both sides.
            mean = f.readout_error if f.readout_error is not None else worst
            if mean is None:
                continue
            e01 = e10 = mean
        readout[q] = (e01, e10)
    t1 = {q: f.t1_s for q, f in metrics.qubits.items() if f.t1_s is not None}
    t2 = {q: f.t2_s for q, f in metrics.qubits.items() if f.t2_s is not None}
    return NoiseModel(
        prx=prx,
        cz=cz,
        move=move,
        readout=readout,
        t1_s=t1,
        t2_s=t2,
        idle=idle,
        prx_default=max(prx.values(), default=0.0),
        cz_default=max(cz.values(), default=0.0),
        move_default=max(move.values(), default=0.0),
    )


# --- channels on a density matrix of n qubits: axes 0..n-1 rows, n..2n-1 columns ------------
# Each works in place on the flat matrix of one branch (except swap and project, which copy).


def _qubits_of(rho: Rho) -> int:
    return (rho.size.bit_length() - 1) // 2


def _sel(n: int, bits: Mapping[int, int]) -> tuple[int | slice, ...]:
    """The index of the ``(2,) * 2n`` view fixing ``{axis: bit}``."""
    index: list[int | slice] = [slice(None)] * (2 * n)
    for axis, bit in bits.items():
        index[axis] = bit
    return tuple(index)


def _tensor(rho: Rho) -> tuple[Rho, int]:
    n = _qubits_of(rho)
    return rho.reshape((2,) * 2 * n), n


def _unitary_1q(rho: Rho, u: npt.NDArray[np.complex128], axis: int) -> None:
    """``rho -> U rho U^dagger`` on one qubit: U on its row axis, conj(U) on its column."""
    n = _qubits_of(rho)
    for ax, m in ((axis, u), (n + axis, u.conj())):
        view = rho.reshape(1 << ax, 2, -1)
        zero = view[:, 0, :].copy()
        one = view[:, 1, :]
        low = m[1, 0] * zero
        low += m[1, 1] * one
        one *= m[0, 1]
        one += m[0, 0] * zero
        view[:, 0, :] = one
        view[:, 1, :] = low


def _cz(rho: Rho, a: int, b: int) -> None:
    tensor, n = _tensor(rho)
    tensor[_sel(n, {a: 1, b: 1})] *= -1
    tensor[_sel(n, {n + a: 1, n + b: 1})] *= -1


def _swap(rho: Rho, a: int, b: int) -> Rho:
    tensor, n = _tensor(rho)
    swapped = np.swapaxes(np.swapaxes(tensor, a, b), n + a, n + b)
    result: Rho = np.ascontiguousarray(swapped).reshape(-1)
    return result


def _depolarize(rho: Rho, axes: Sequence[int], lam: float) -> None:
    """``rho -> (1 - lam) rho + lam I/d (x) Tr_axes rho`` on one or two qubits."""
    if lam <= 0.0:
        return
    tensor, n = _tensor(rho)
    diagonals = []
    for bits in np.ndindex(*(2,) * len(axes)):
        fixed = dict(zip(axes, bits, strict=True))
        fixed.update({n + axis: bit for axis, bit in zip(axes, bits, strict=True)})
        diagonals.append(_sel(n, fixed))
    traced = sum(tensor[index] for index in diagonals)
    tensor *= 1.0 - lam
    share = lam / len(diagonals)
    for index in diagonals:
        tensor[index] += share * traced


def _decay(rho: Rho, axis: int, seconds: float, t1: float | None, t2: float | None) -> None:
    """Idle relaxation (T1) and dephasing (T2, at most 2 T1) of one qubit for ``seconds``."""
    if seconds <= 0.0 or (t1 is None and t2 is None):
        return
    tensor, n = _tensor(rho)
    if t1 is not None:
        gamma = 1.0 - math.exp(-seconds / t1)
        tensor[_sel(n, {axis: 0, n + axis: 0})] += gamma * tensor[_sel(n, {axis: 1, n + axis: 1})]
        tensor[_sel(n, {axis: 1, n + axis: 1})] *= 1.0 - gamma
    limit = 2.0 * t1 if t1 is not None else math.inf
    coherence = math.exp(-seconds / min(t2 if t2 is not None else limit, limit))
    tensor[_sel(n, {axis: 0, n + axis: 1})] *= coherence
    tensor[_sel(n, {axis: 1, n + axis: 0})] *= coherence


def _project(rho: Rho, axis: int, bit: int) -> Rho:
    projected: Rho = rho.copy()
    tensor, n = _tensor(projected)
    tensor[_sel(n, {axis: 1 - bit})] = 0.0
    tensor[_sel(n, {n + axis: 1 - bit})] = 0.0
    return projected


def _reset(rho: Rho, axis: int) -> None:
    """``rho -> |0><0| (x) Tr_axis rho``: no measurement branch needed."""
    tensor, n = _tensor(rho)
    tensor[_sel(n, {axis: 0, n + axis: 0})] += tensor[_sel(n, {axis: 1, n + axis: 1})]
    for row, col in ((1, 1), (0, 1), (1, 0)):
        tensor[_sel(n, {axis: row, n + axis: col})] = 0.0


def _with_new_qubit(rho: Rho) -> Rho:
    """``rho (x) |0><0|``, the new qubit the last axis."""
    size = 1 << _qubits_of(rho)
    grown: Rho = np.zeros((size, 2, size, 2), dtype=np.complex128)
    grown[:, 0, :, 0] = rho.reshape(size, size)
    return grown.reshape(-1)


def _trace(rho: Rho) -> float:
    size = 1 << _qubits_of(rho)
    return float(rho.reshape(size, size).trace().real)


@dataclass
class _Branch:
    rho: Rho
    bits: dict[tuple[int, int], int] = field(default_factory=dict)
    feedback: dict[tuple[str, str], int] = field(default_factory=dict)  # (key, qubit) -> bit


class _State:
    """The branches, which qubit is which axis, and the idle schedule.

    A qubit joins the matrix when an operation first acts on it (before that it is |0>, which
    idle decay leaves alone), so the matrix of a circuit that entangles qubits one by one
    stays small for most of the run."""

    def __init__(self, model: NoiseModel) -> None:
        self.model = model
        self.branches = [_Branch(np.ones(1, dtype=np.complex128))]
        self.axis_of: dict[str, int] = {}
        self.free_at: dict[str, float] = {}

    def axes(self, qubits: Sequence[str]) -> list[int]:
        for qubit in qubits:
            if qubit not in self.axis_of:
                self.axis_of[qubit] = len(self.axis_of)
                for branch in self.branches:
                    branch.rho = _with_new_qubit(branch.rho)
        return [self.axis_of[q] for q in qubits]

    def occupy(self, qubits: Sequence[str], duration: float) -> None:
        """Idle ``qubits`` until all are free, then keep them busy for ``duration``."""
        if not self.model.idle:
            return
        start = max(self.free_at.get(q, 0.0) for q in qubits)
        for qubit in qubits:
            self.idle(qubit, start - self.free_at.get(qubit, 0.0))
            self.free_at[qubit] = start + duration

    def wait(self, qubits: Sequence[str], seconds: float) -> None:
        """A ``delay``: ``qubits`` idle (and decay) for ``seconds`` once all are free."""
        if not self.model.idle:
            return
        self.occupy(qubits, 0.0)
        for qubit in qubits:
            self.idle(qubit, seconds)
            self.free_at[qubit] = self.free_at.get(qubit, 0.0) + seconds

    def idle(self, qubit: str, seconds: float) -> None:
        if seconds <= 0.0 or qubit not in self.axis_of:
            return
        t1, t2 = self.model.t1_s.get(qubit), self.model.t2_s.get(qubit)
        for branch in self.branches:
            _decay(branch.rho, self.axis_of[qubit], seconds, t1, t2)

    def finish(self, measured: Sequence[str]) -> None:
        """Final measurements happen together, after the circuit's last gate."""
        if not self.model.idle or not measured:
            return
        end = max(self.free_at.values(), default=0.0)
        for qubit in measured:
            self.idle(qubit, end - self.free_at.get(qubit, 0.0))

    def split(self, axis: int, record: tuple[int, int]) -> None:
        out: list[_Branch] = []
        for branch in self.branches:
            for bit in (0, 1):
                rho = _project(branch.rho, axis, bit)
                if _trace(rho) <= _ZERO_WEIGHT:
                    continue
                out.append(_Branch(rho, {**branch.bits, record: bit}, dict(branch.feedback)))
        if len(out) > MAX_BRANCHES:
            raise SimulationError(
                f"the circuit's mid-circuit measurements create more than {MAX_BRANCHES} "
                "branches; the emulator cannot simulate it. Measure fewer qubits before the end."
            )
        self.branches = out


def _run(circuit: Circuit, final: set[int], model: NoiseModel) -> _State:
    state = _State(model)
    durations = model.durations
    for position, inst in enumerate(circuit.instructions):
        name = inst.name
        qubits = inst.qubits
        if name in PRX_NAMES or name == "cc_prx":
            state.occupy(qubits, durations.prx)
            (axis,) = state.axes(qubits)
            unitary = prx_matrix(inst.args["angle_t"], inst.args["phase_t"])
            lam = model.prx_lambda(qubits[0])
            control = (
                (inst.args["feedback_key"], inst.args["feedback_qubit"])
                if name == "cc_prx"
                else None
            )
            for branch in state.branches:
                if control is None or branch.feedback.get(control, 0):
                    _unitary_1q(branch.rho, unitary, axis)
                    _depolarize(branch.rho, [axis], lam)
        elif name in ("cz", "move"):
            state.occupy(qubits, durations.cz if name == "cz" else durations.move)
            axes = state.axes(qubits)
            lam = model.pair_lambda(name, qubits[0], qubits[1])
            for branch in state.branches:
                if name == "cz":
                    _cz(branch.rho, axes[0], axes[1])
                else:
                    branch.rho = _swap(branch.rho, axes[0], axes[1])
                _depolarize(branch.rho, axes, lam)
        elif name in MEASURE_NAMES and position not in final:
            state.occupy(qubits, durations.measure)
            feedback_key = inst.args.get("feedback_key")
            for slot, axis in enumerate(state.axes(qubits)):
                state.split(axis, (position, slot))
                if feedback_key is not None:
                    for branch in state.branches:
                        branch.feedback[(feedback_key, qubits[slot])] = branch.bits[
                            (position, slot)
                        ]
        elif name == "reset":
            state.occupy(qubits, durations.measure)
            for axis in state.axes(qubits):
                for branch in state.branches:
                    _reset(branch.rho, axis)
        elif name == "delay":
            state.wait(qubits, float(inst.args.get("duration", 0.0)))
        elif name == "barrier":
            state.occupy(qubits, 0.0)
    measured = list(dict.fromkeys(q for p in sorted(final) for q in circuit.instructions[p].qubits))
    state.finish(measured)
    state.axes(measured)  # qubits only measured join as |0>
    return state


def simulate_noisy(
    circuit: Circuit, shots: int, rng: np.random.Generator, model: NoiseModel
) -> dict[str, npt.NDArray[np.int8]]:
    """Run ``circuit`` with ``model``'s noise; the same result format and randomness rules as
    :func:`~iqm_async.emulator.simulator.simulate_arrays`.

    Raises:
        SimulationError: more than :data:`NOISY_MAX_QUBITS` touched qubits, or too many
            measurement branches.
    """
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    qubits = circuit.qubits
    if len(qubits) > NOISY_MAX_QUBITS:
        raise SimulationError(
            f"circuit '{circuit.name}' touches {len(qubits)} qubits; with noise on the emulator "
            f"simulates at most {NOISY_MAX_QUBITS} per circuit (turn noise off for larger ones)"
        )
    measures, final = measurement_plan(circuit)
    state = _run(circuit, final, model)
    branches, index_of = state.branches, state.axis_of
    n = len(index_of)
    return assemble_results(
        branches,
        np.array([_trace(b.rho) for b in branches]),
        lambda branch, axes, count: _sample(branch.rho, n, axes, count, rng),
        shots,
        measures,
        final,
        index_of,
        model.readout,
        rng,
    )


def _sample(
    rho: Rho, n: int, measured_axes: Sequence[int], shots: int, rng: np.random.Generator
) -> npt.NDArray[np.int8]:
    if not measured_axes or shots == 0:
        return np.zeros((shots, len(measured_axes)), dtype=np.int8)
    probs = np.clip(rho.reshape(1 << n, 1 << n).diagonal().real, 0.0, None).reshape((2,) * n)
    others = tuple(a for a in range(n) if a not in measured_axes)
    marginal = probs.sum(axis=others).reshape(-1) if others else probs.reshape(-1)
    outcomes = _draw(marginal, shots, rng)
    width = len(measured_axes)
    shifts = np.arange(width - 1, -1, -1)
    return ((outcomes[:, None] >> shifts[None, :]) & 1).astype(np.int8)
