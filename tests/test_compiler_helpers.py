"""Shared helpers of the compiler tests: seeded random circuits and an equivalence check that
undoes placement (Garnet's coupling map comes from sample_circuits). Holds no tests itself."""

from __future__ import annotations

import random

import numpy as np
from pytket.circuit import Circuit, Node, OpType, Qubit


def random_circuit(n_qubits: int, layers: int, seed: int) -> Circuit:
    """A seeded random circuit of one- and two-qubit gates (and an occasional Toffoli)."""
    rng = random.Random(seed)
    circuit = Circuit(n_qubits)
    for _ in range(layers):
        for q in range(n_qubits):
            kind = rng.randrange(4)
            if kind == 0:
                circuit.H(q)
            elif kind == 1:
                circuit.Rz(rng.uniform(0, 2), q)
            elif kind == 2:
                circuit.Rx(rng.uniform(0, 2), q)
            else:
                circuit.add_gate(OpType.PhasedX, [rng.uniform(0, 2), rng.uniform(0, 2)], [q])
        qubits = list(range(n_qubits))
        rng.shuffle(qubits)
        for a, b in zip(qubits[::2], qubits[1::2], strict=False):
            gate = rng.choice([OpType.CX, OpType.CZ, OpType.SWAP, OpType.CU1])
            if gate == OpType.CU1:
                circuit.add_gate(gate, [rng.uniform(0, 2)], [a, b])
            else:
                circuit.add_gate(gate, [a, b])
        if n_qubits >= 3 and rng.random() < 0.2:
            circuit.CCX(*rng.sample(range(n_qubits), 3))
    return circuit


def _indices(positions: list[int], n_bits: int, width: int) -> np.ndarray:
    """Basis indices of a width-qubit register for every value of the qubits at positions
    (pytket's order: the first qubit is the most significant bit)."""
    values = np.arange(2**n_bits)
    index = np.zeros_like(values)
    for k, pos in enumerate(positions):
        bit = (values >> (n_bits - 1 - k)) & 1
        index |= bit << (width - 1 - pos)
    return index


def assert_same_unitary(
    original: Circuit,
    compiled: Circuit,
    initial_map: dict[Qubit, Node],
    final_map: dict[Qubit, Node],
) -> None:
    """The compiled circuit acts as the original on the placed qubits, up to global phase.

    Ancilla qubits added by routing start in |0>; restricted to those inputs the compiled
    unitary must map the data qubits (read at their final places) exactly as the original.
    """
    u_original = original.get_unitary()
    u_compiled = compiled.get_unitary()
    data = original.qubits
    wires = compiled.qubits
    position_in = [wires.index(initial_map[q]) for q in data]
    position_out = [wires.index(final_map[q]) for q in data]
    columns = _indices(position_in, len(data), len(wires))
    rows = _indices(position_out, len(data), len(wires))
    block = u_compiled[np.ix_(rows, columns)]
    # The block must be unitary (no amplitude leaks to ancillas) and equal up to phase.
    pivot = np.unravel_index(np.argmax(np.abs(u_original)), u_original.shape)
    phase = block[pivot] / u_original[pivot]
    assert abs(abs(phase) - 1) < 1e-6, f"amplitude lost to ancillas: |phase| = {abs(phase)}"
    assert np.allclose(block, phase * u_original, atol=1e-6)


def probabilities(circuit: Circuit) -> dict[tuple[int, ...], float]:
    """Outcome probabilities of measuring every qubit of a measurement-free circuit."""
    state = circuit.get_statevector()
    n = circuit.n_qubits
    return {
        tuple((i >> (n - 1 - k)) & 1 for k in range(n)): float(p)
        for i, p in enumerate(np.abs(state) ** 2)
        if p > 1e-12
    }
