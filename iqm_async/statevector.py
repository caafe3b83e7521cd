"""State-vector kernels for IQM's native gates (numpy only; no pytket, no I/O).

Shared by the emulator's simulators and the compiler's fidelity estimate, so that both read
``prx`` the same way. A state of ``n`` qubits is a flat complex array of ``2**n`` amplitudes
with qubit 0 as the most significant bit (pytket's order). Angles are in full turns, as on
the wire: ``prx(angle_t, phase_t)`` is RZ(φ)·RX(θ)·RZ(−φ) with θ = 2π·angle_t and
φ = 2π·phase_t (PROTOCOL.md section 2.1).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
import numpy.typing as npt

__all__ = ["State", "apply_1q", "apply_cz", "ground_state", "prx_matrix", "swapped"]

State = npt.NDArray[np.complex128]


def prx_matrix(angle_t: float, phase_t: float) -> npt.NDArray[np.complex128]:
    """The 2x2 unitary of ``prx`` with both angles in full turns."""
    # Scalar math, then one array: numpy calls on scalars cost more than the arithmetic.
    c = math.cos(math.pi * angle_t)
    s = math.sin(math.pi * angle_t)
    phase = cmath.exp(2j * math.pi * phase_t)
    return np.array([[c, -1j * s / phase], [-1j * s * phase, c]], dtype=np.complex128)


def ground_state(n_qubits: int) -> State:
    """|0...0> on ``n_qubits`` qubits."""
    state: State = np.zeros(1 << n_qubits, dtype=np.complex128)
    state[0] = 1.0
    return state


def apply_1q(state: State, unitary: npt.NDArray[np.complex128], axis: int) -> None:
    """Apply a single-qubit unitary to qubit ``axis`` of ``state``, in place."""
    view = state.reshape(1 << axis, 2, -1)
    view[...] = unitary @ view  # one broadcast matmul: (2, 2) @ (before, 2, after)


def apply_cz(state: State, n_qubits: int, a: int, b: int) -> None:
    """Apply CZ between qubits ``a`` and ``b`` of ``state``, in place."""
    index: list[int | slice] = [slice(None)] * n_qubits
    index[a] = 1
    index[b] = 1
    state.reshape((2,) * n_qubits)[tuple(index)] *= -1


def swapped(state: State, n_qubits: int, a: int, b: int) -> State:
    """A copy of ``state`` with qubits ``a`` and ``b`` exchanged (what ``move`` does)."""
    exchanged = np.swapaxes(state.reshape((2,) * n_qubits), a, b)
    result: State = np.ascontiguousarray(exchanged).reshape(-1)
    return result
