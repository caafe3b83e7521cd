"""Circuits and reference harnesses that tests and benchmarks share (one home for each).

Benchmarks import this module by putting ``tests/`` on ``sys.path``; nothing here imports a
test module or a fixture.
"""

from __future__ import annotations

import json
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
