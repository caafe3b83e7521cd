"""Circuits and reference harnesses that tests and benchmarks share (one home for each).

Benchmarks import this module by putting ``tests/`` on ``sys.path``; nothing here imports a
test module or a fixture.
"""

from __future__ import annotations

import json
import random
import uuid
from types import SimpleNamespace
from typing import Any

from pytket.architecture import Architecture
from pytket.backends import ResultHandle
from pytket.backends.backend import Backend
from pytket.circuit import Circuit, Node

from iqm_async.models import Circuit as IQMCircuit
from iqm_async.models import Instruction

# IQM Garnet's 30 CZ couplings (QB numbering), as published in qiskit-iqm's fake backend.
GARNET_COUPLINGS = [
    (1, 2), (1, 4), (2, 5), (3, 4), (8, 3), (4, 5), (9, 4), (5, 6), (10, 5), (6, 7),
    (11, 6), (12, 7), (8, 9), (8, 13), (9, 10), (9, 14), (10, 11), (10, 15), (11, 12),
    (16, 11), (17, 12), (13, 14), (14, 15), (18, 14), (16, 15), (19, 15), (16, 17),
    (16, 20), (18, 19), (19, 20),
]  # fmt: skip


def garnet(max_qubit: int = 20) -> Architecture:
    """Garnet's coupling map restricted to QB1..QB<max_qubit>."""
    return Architecture(
        [
            (Node(a - 1), Node(b - 1))
            for a, b in GARNET_COUPLINGS
            if a <= max_qubit and b <= max_qubit
        ]
    )


def bit_circuit(index: int, prefix: str = "job") -> IQMCircuit:
    """One qubit that always measures ``index % 2``, named ``{prefix}-{index}``: each body is
    unique (the emulator counts identical bodies within a minute as duplicate submissions)."""
    instructions = [Instruction(name="measure", qubits=("q0",), args={"key": "m"})]
    if index % 2:
        prx = Instruction(name="prx", qubits=("q0",), args={"angle_t": 0.5, "phase_t": 0.0})
        instructions.insert(0, prx)
    return IQMCircuit(name=f"{prefix}-{index}", instructions=tuple(instructions))


def qft(n_qubits: int) -> Circuit:
    """The quantum Fourier transform (without the final swaps)."""
    circuit = Circuit(n_qubits, name=f"qft{n_qubits}")
    for i in range(n_qubits):
        circuit.H(i)
        for j in range(i + 1, n_qubits):
            circuit.CU1(1 / 2 ** (j - i), j, i)
    return circuit


def ghz(n_qubits: int) -> Circuit:
    """H then a chain of CX: (|0...0> + |1...1>) / sqrt(2)."""
    circuit = Circuit(n_qubits, name=f"ghz{n_qubits}").H(0)
    for i in range(n_qubits - 1):
        circuit.CX(i, i + 1)
    return circuit


def pytket_iqm_decode(measurements: dict[str, list[list[int]]]) -> Any:
    """pytket-iqm 0.18's own decoding (``IQMBackend.circuit_status``) run on ``measurements``;
    returns its ``BackendResult``."""
    from iqm.iqm_client.models import Status
    from pytket.extensions.iqm import IQMBackend

    backend = object.__new__(IQMBackend)  # skip __init__: it logs in to IQM Resonance
    Backend.__init__(backend)
    run = SimpleNamespace(status=Status.READY, measurements=[measurements], message=None)
    backend._client = SimpleNamespace(get_run=lambda run_id: run)
    handle = ResultHandle(uuid.uuid4().bytes, json.dumps(None))
    backend._cache[handle] = {}
    backend.circuit_status(handle)
    return backend._cache[handle]["result"]


def layered_random_circuit(n_qubits: int, depth: int, seed: int) -> Circuit:
    """``depth`` layers of random Rz and Rx on every qubit, then CX on a random pairing."""
    rng = random.Random(seed)
    circuit = Circuit(n_qubits, name=f"random{n_qubits}-{seed}")
    for _ in range(depth):
        for q in range(n_qubits):
            circuit.Rz(rng.uniform(0, 2), q).Rx(rng.uniform(0, 2), q)
        qubits = list(range(n_qubits))
        rng.shuffle(qubits)
        for a, b in zip(qubits[::2], qubits[1::2], strict=False):
            circuit.CX(a, b)
    return circuit


def periodic_qft(n_qubits: int) -> Circuit:
    """:func:`qft` of a periodic state (H on the upper half of the qubits, X on qubit 0): its
    output peaks on a few outcomes only if every controlled phase is right (the QFT of a
    single basis state would be uniform whatever the phases)."""
    circuit = Circuit(n_qubits, name=f"periodic_qft{n_qubits}").X(0)
    for q in range(n_qubits // 2, n_qubits):
        circuit.H(q)
    circuit.append(qft(n_qubits))
    return circuit


def star_random_circuit(n_qubits: int, seed: int, depth: int | None = None) -> Circuit:
    """A random circuit whose output spreads over at most 32 outcomes, so that a few
    thousand shots measure its distribution well: Ry of random angles on two random qubits
    and H on two others, a random network of ``depth`` (default ``2 * n_qubits``) gates from
    CX, CZ, controlled phases of random angle, SWAP, X and Rz, and H on one qubit at the end
    (its outcome depends on every phase before it)."""
    import random

    rng = random.Random(seed)
    circuit = Circuit(n_qubits, name=f"star_random_{n_qubits}_{seed}")
    picked = rng.sample(range(n_qubits), 4)
    circuit.Ry(rng.uniform(0.2, 1.8), picked[0]).Ry(rng.uniform(0.2, 1.8), picked[1])
    circuit.H(picked[2]).H(picked[3])
    for _ in range(depth if depth is not None else 2 * n_qubits):
        a, b = rng.sample(range(n_qubits), 2)
        kind = rng.randrange(6)
        if kind == 0:
            circuit.CX(a, b)
        elif kind == 1:
            circuit.CZ(a, b)
        elif kind == 2:
            circuit.CU1(rng.uniform(0.1, 1.9), a, b)
        elif kind == 3:
            circuit.SWAP(a, b)
        elif kind == 4:
            circuit.X(a)
        else:
            circuit.Rz(rng.uniform(0.1, 1.9), a)
    circuit.H(rng.randrange(n_qubits))
    return circuit


def total_variation_distance(counts: dict[Any, int], probabilities: dict[Any, float]) -> float:
    """TVD between the shots' empirical distribution and ``probabilities``."""
    shots = sum(counts.values())
    outcomes = set(counts) | set(probabilities)
    return 0.5 * sum(abs(counts.get(o, 0) / shots - probabilities.get(o, 0.0)) for o in outcomes)


def tvd_bound(probabilities: dict[Any, float], shots: int, failure: float = 1e-6) -> float:
    """A TVD a correct sampler stays below except with probability ``failure``.

    The expected TVD of ``shots`` samples is at most ``sum sqrt(p (1 - p) / shots) / 2``
    (each count's mean absolute deviation is at most its standard deviation), and one shot
    moves the TVD by at most ``1 / shots``, so McDiarmid's inequality adds
    ``sqrt(ln(1 / failure) / (2 shots))``.
    """
    import math

    spread = sum(math.sqrt(p * (1 - p) / shots) for p in probabilities.values()) / 2
    return spread + math.sqrt(math.log(1 / failure) / (2 * shots))


def ideal_probabilities(circuit: Circuit) -> dict[tuple[int, ...], float]:
    """The outcome probabilities of ``circuit``'s gates (measurements ignored), keyed as
    ``BackendResult.get_counts()`` keys a ``measure_all`` circuit's outcomes. A plain numpy
    state vector from each gate's own unitary: it works beyond pytket's simulation limit and
    shares nothing with the compiler under test."""
    import numpy as np

    n = circuit.n_qubits
    axis = {q: i for i, q in enumerate(circuit.qubits)}
    state = np.zeros((2,) * n, dtype=np.complex128)
    state[(0,) * n] = 1.0
    for command in circuit.get_commands():
        if command.op.type.name in ("Measure", "Barrier"):
            continue
        axes = [axis[q] for q in command.qubits]
        k = len(axes)
        # pytket's unitaries use ILO-BE order, the first qubit most significant, as here.
        gate = command.op.get_unitary().reshape((2,) * (2 * k))
        state = np.tensordot(gate, state, axes=(list(range(k, 2 * k)), axes))
        state = np.moveaxis(state, list(range(k)), axes)
    probabilities = np.abs(state.reshape(-1)) ** 2
    return {
        tuple(int(b) for b in np.binary_repr(i, n)): float(p)
        for i, p in enumerate(probabilities)
        if p > 1e-12
    }
