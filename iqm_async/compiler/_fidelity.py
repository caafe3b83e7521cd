"""The fidelity a circuit's estimated success probability predicts (private).

:func:`~iqm_async.compiler.estimated_success_probability` is the chance that no gate or
readout goes wrong. How much a failure costs depends on the circuit: a GHZ state's two
outcomes lose about one for one, while a circuit whose ideal outcomes are spread out keeps a
high Hellinger fidelity even when many runs fail, because a failed run mostly lands on
another likely outcome. :func:`estimated_fidelity` turns the estimate ``s`` into the
Hellinger fidelity it predicts under the usual global-depolarising reading of noise (a failed
run gives a uniformly random outcome)::

    noisy = s * ideal + (1 - s) * uniform
    F = (sum_x sqrt(ideal(x) * noisy(x))) ** 2

It has no fitted parameter: ``s`` comes from the calibration set, the ideal distribution from
simulating the compiled circuit with the state-vector kernels the emulator uses (up to
:data:`MAX_SIMULATED_QUBITS` active qubits), or from the caller for a wider circuit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from pytket.circuit import Circuit, Command, OpType, Qubit

from ..errors import CircuitValidationError, InputError
from ..quality import QualityMetrics
from ..statevector import apply_1q, apply_cz, ground_state, prx_matrix
from ._noise import DeviceErrors, estimated_success_probability

__all__ = [
    "MAX_SIMULATED_QUBITS",
    "estimated_fidelity",
    "estimated_fidelity_from_dicts",
    "ideal_probabilities",
]

MAX_SIMULATED_QUBITS = 20
"""The most active qubits :func:`ideal_probabilities` simulates (a 16 MiB state vector)."""

_IGNORED = frozenset({OpType.Barrier})
_SIMULATED = frozenset({OpType.PhasedX, OpType.CZ})


def _gates_and_measured(circuit: Circuit) -> tuple[list[Command], list[Qubit]]:
    """The circuit's gates and its measured qubits, checked: measurements last on their
    qubit, each qubit measured once, no symbols, no classical control."""
    measured: list[Qubit] = []
    gates: list[Command] = []
    for command in circuit.get_commands():
        optype = command.op.type
        if optype == OpType.Measure:
            qubit = command.qubits[0]
            if qubit in measured:
                raise CircuitValidationError(
                    f"Qubit {qubit} is measured twice; estimated_fidelity needs each qubit "
                    "measured at most once, at the end."
                )
            measured.append(qubit)
        elif optype in _IGNORED:
            continue
        elif optype not in _SIMULATED or command.bits:
            raise CircuitValidationError(
                f"The circuit has a {optype.name} operation; estimated_fidelity simulates "
                "compiled circuits only (PhasedX, CZ, Measure at the end, Barrier)."
            )
        elif command.op.free_symbols():
            raise CircuitValidationError(
                f"The {optype.name} gate on {command.qubits} is symbolic; bind the symbols "
                "(Circuit.symbol_substitution) to estimate the circuit's fidelity."
            )
        else:
            late = [q for q in command.qubits if q in measured]
            if late:
                raise CircuitValidationError(
                    f"A {optype.name} gate acts on {late[0]} after it is measured; "
                    "estimated_fidelity needs every measurement at the end."
                )
            gates.append(command)
    return gates, measured


def ideal_probabilities(circuit: Circuit) -> npt.NDArray[np.float64]:
    """The noiseless outcome probabilities of a compiled circuit's measured qubits.

    Only the qubits the circuit touches are simulated. The order of the outcomes is
    unspecified: the predicted fidelity does not need it.

    Raises:
        CircuitValidationError: an operation other than PhasedX, CZ, Barrier and final
            measurements; a qubit measured twice; a symbolic gate.
        InputError: more than :data:`MAX_SIMULATED_QUBITS` active qubits.
    """
    gates, measured = _gates_and_measured(circuit)
    if not measured:
        return np.ones(1)
    active = sorted({q for command in gates for q in command.qubits} | set(measured))
    if len(active) > MAX_SIMULATED_QUBITS:
        raise InputError(
            f"The circuit acts on {len(active)} qubits; estimated_fidelity simulates at most "
            f"{MAX_SIMULATED_QUBITS}. Pass its ideal outcome probabilities as ideal=."
        )
    axis = {qubit: i for i, qubit in enumerate(active)}
    n = len(active)
    state = ground_state(n)
    for command in gates:
        if command.op.type == OpType.CZ:
            apply_cz(state, n, axis[command.qubits[0]], axis[command.qubits[1]])
        else:
            # pytket's PhasedX(a, b) in half-turns is prx(a / 2, b / 2) in full turns.
            alpha, beta = (float(p) for p in command.op.params)
            apply_1q(state, prx_matrix(alpha / 2, beta / 2), axis[command.qubits[0]])
    tensor = (np.abs(state) ** 2).reshape((2,) * n)
    kept = {axis[q] for q in measured}
    others = tuple(i for i in range(n) if i not in kept)
    marginal = tensor.sum(axis=others) if others else tensor
    return np.asarray(marginal, dtype=np.float64).ravel()


def _measured_count(circuit: Circuit) -> int:
    return len({command.qubits[0] for command in circuit.commands_of_type(OpType.Measure)})


def predicted_fidelity(success: float, ideal: Iterable[float], n_measured: int) -> float:
    """``(sum_x sqrt(p_x * (s p_x + (1 - s) / 2**n)))**2`` over the ideal probabilities."""
    p = np.fromiter(ideal, dtype=np.float64)
    if p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise InputError(
            "ideal= must be the circuit's ideal outcome probabilities: finite, non-negative "
            "numbers, at least one."
        )
    total = float(p.sum())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise InputError(f"ideal= must sum to 1 (it sums to {total:.6g}).")
    if p.size > 2**n_measured:
        raise InputError(
            f"ideal= has {p.size} outcomes, more than the 2**{n_measured} the circuit's "
            f"{n_measured} measured qubits can give."
        )
    p = p / total
    noisy = success * p + (1.0 - success) * 2.0**-n_measured
    overlap = float(np.sum(np.sqrt(p * noisy)))
    return min(1.0, overlap**2)


def estimated_fidelity(
    circuit: Circuit,
    metrics: QualityMetrics | DeviceErrors,
    *,
    ideal: Iterable[float] | None = None,
) -> float:
    """The Hellinger fidelity to the ideal distribution that a compiled circuit's
    :func:`estimated_success_probability` predicts, if every failed run gives a uniformly
    random outcome (see the module notes).

    Unlike the success probability, it ranks circuits of different output shapes the way
    their measured fidelities do: a circuit whose ideal outcomes are spread out keeps a high
    fidelity whatever goes wrong. For one circuit it grows with the success probability, so
    it orders placements alike.

    Args:
        circuit: a circuit compiled for the device (native gates on ``node[i]`` qubits),
            its measurements at the end, no symbols.
        metrics: the calibration set's quality metrics.
        ideal: the circuit's ideal outcome probabilities over its measured qubits, in any
            order; by default simulated here (at most :data:`MAX_SIMULATED_QUBITS` active
            qubits).

    Raises:
        CircuitValidationError: the circuit is not compiled for the device, or cannot be
            simulated (see :func:`ideal_probabilities`).
        InputError: ``ideal`` is not a probability distribution, or the circuit is too wide
            to simulate and ``ideal`` is missing.
    """
    success = estimated_success_probability(circuit, metrics)
    n_measured = _measured_count(circuit)
    probabilities = ideal_probabilities(circuit) if ideal is None else ideal
    return predicted_fidelity(success, probabilities, n_measured)


def estimated_fidelity_from_dicts(circuit: dict[str, Any], errors: dict[str, Any]) -> float:
    """Worker entry point: :func:`estimated_fidelity` of a circuit and errors given as
    ``Circuit.to_dict()`` and ``DeviceErrors.to_json()``."""
    return estimated_fidelity(Circuit.from_dict(circuit), DeviceErrors.from_json(errors))
