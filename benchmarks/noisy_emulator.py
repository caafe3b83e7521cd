"""How long the noisy emulator takes per circuit: GHZ-10, QFT-5, random 6-qubit and (the
worst case) random 10-qubit native circuits on Garnet at 4,000 shots, noise and idle noise
on (generated metrics, seed 1).

    PYTHONPATH=. python benchmarks/noisy_emulator.py
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.noise import simulate_noisy
from iqm_async.models import Circuit, Instruction

SHOTS = 4000


def prx(qubit: str, angle_t: float, phase_t: float) -> Instruction:
    return Instruction(name="prx", qubits=(qubit,), args={"angle_t": angle_t, "phase_t": phase_t})


def cz(a: str, b: str) -> Instruction:
    return Instruction(name="cz", qubits=(a, b))


def hadamard_like(qubit: str) -> list[Instruction]:
    return [prx(qubit, 0.25, 0.25), prx(qubit, 0.5, 0.0)]


def ghz(chain: list[str]) -> Circuit:
    ops = hadamard_like(chain[0])
    for control, target in itertools.pairwise(chain):
        ops += [prx(target, 0.25, 0.75), cz(control, target), prx(target, 0.25, 0.25)]
    ops.append(Instruction(name="measure", qubits=tuple(chain), args={"key": "m"}))
    return Circuit(name="ghz", instructions=ops)


def qft(qubits: list[str]) -> Circuit:
    ops: list[Instruction] = []
    for i, a in enumerate(qubits):
        ops += hadamard_like(a)
        for j, b in enumerate(qubits[i + 1 :], start=1):
            # controlled phase pi/2**j as two CZs in a prx sandwich (what a compiler emits)
            ops += [prx(b, 0.25, 0.0), cz(a, b), prx(b, 1 / 2 ** (j + 2), 0.25), cz(a, b)]
            ops += [prx(b, -0.25, 0.0)]
    ops.append(Instruction(name="measure", qubits=tuple(qubits), args={"key": "m"}))
    return Circuit(name="qft", instructions=ops)


def random_circuit(
    qubits: list[str], pairs: list[tuple[str, str]], rng: np.random.Generator
) -> Circuit:
    ops: list[Instruction] = []
    for _ in range(10):
        for q in qubits:
            ops.append(prx(q, float(rng.random()), float(rng.random())))
        for a, b in pairs:
            if rng.random() < 0.5:
                ops.append(cz(a, b))
    ops.append(Instruction(name="measure", qubits=tuple(qubits), args={"key": "m"}))
    return Circuit(name="random", instructions=ops)


def main() -> None:
    config = EmulatorConfig(seed=1, noise=True, idle_noise=True)
    device = create_app(config).state.emulator.device
    assert device.noise is not None
    chain = ["QB1", "QB2", "QB5", "QB6", "QB7", "QB12", "QB11", "QB10", "QB15", "QB16"]
    six = ["QB1", "QB2", "QB4", "QB5", "QB8", "QB9"]
    pairs = [("QB1", "QB2"), ("QB1", "QB4"), ("QB2", "QB5"), ("QB4", "QB5"), ("QB4", "QB9"),
             ("QB5", "QB6"), ("QB8", "QB9"), ("QB3", "QB8")]  # fmt: skip
    pairs = [(a, b) for a, b in pairs if a in six and b in six]
    circuits = {
        "GHZ-10": ghz(chain),
        "QFT-5": qft(six[:5]),
        "random 6-qubit": random_circuit(six, pairs, np.random.default_rng(3)),
        # The worst case: every qubit touched at once, so the matrix is 4**10 from the start.
        "random 10-qubit": random_circuit(
            chain, list(itertools.pairwise(chain)), np.random.default_rng(4)
        ),
    }
    for name, circuit in circuits.items():
        times = []
        for run in range(3):
            start = time.perf_counter()
            simulate_noisy(circuit, SHOTS, np.random.default_rng(run), device.noise)
            times.append(time.perf_counter() - start)
        ops = len(circuit.instructions)
        print(f"{name:>15}: {ops:4d} instructions, best of 3 {min(times) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
