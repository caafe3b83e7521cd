"""Does the noisy emulator's noise match the metrics it serves? Measured against configured
readout errors and single-qubit gate decay, as standard scores.

For each of three generated chips (metrics seeds 1-3), on the ten qubits the noisy emulator
simulates at once:

- readout: ``e01`` from measuring |0>, and ``e10`` from measuring after a pi pulse (the
  pulse's own depolarising error is part of the expectation);
- prx decay: after 2k pi pulses (k = 50, 200), the probability of reading 1, which the
  depolarising model puts at ``(1 - (1 - lam)**2k) / 2`` before readout errors.

Each measured figure becomes ``z = (measured - expected) / sigma`` with the binomial
``sigma`` of its shots. If the noise is what the metrics say, the ``z`` are standard normal:
about 95 % within 2, max |z| around 3 for this many, mean z**2 near 1 (its standard error
``sqrt(2 / n)``). The check can tell: expecting symmetric readout (e10 read as e01) puts
chip 1's e10 scores up to |z| = 39.

Run: ``python benchmarks/noise_model_check.py`` (about 20 s; ``--shots=N``, default 20,000).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.noise import NOISY_MAX_QUBITS, simulate_noisy
from iqm_async.models import Circuit, Instruction

PULSE_PAIRS = (50, 200)


def prx(qubit: str, angle_t: float) -> Instruction:
    return Instruction(name="prx", qubits=(qubit,), args={"angle_t": angle_t, "phase_t": 0.0})


def measure(*qubits: str) -> Instruction:
    return Instruction(name="measure", qubits=qubits, args={"key": "m"})


def score(measured: float, expected: float, shots: int) -> float:
    return (measured - expected) / math.sqrt(expected * (1 - expected) / shots)


def read_1(p_state_1: float, e01: float, e10: float) -> float:
    return p_state_1 * (1 - e10) + (1 - p_state_1) * e01


def chip_scores(seed: int, shots: int) -> dict[str, list[float]]:
    device = create_app(EmulatorConfig(seed=seed, metrics="generated", noise=True)).state.emulator
    metrics, noise = device.device.metrics, device.device.noise
    rng = np.random.default_rng(seed)
    qubits = [f"QB{i}" for i in range(1, NOISY_MAX_QUBITS + 1)]
    scores: dict[str, list[float]] = {"e01": [], "e10": [], "prx decay": []}
    zeros = simulate_noisy(Circuit(name="z", instructions=[measure(*qubits)]), shots, rng, noise)
    pulsed = Circuit(name="o", instructions=[*(prx(q, 0.5) for q in qubits), measure(*qubits)])
    ones = simulate_noisy(pulsed, shots, rng, noise)
    for column, qubit in enumerate(qubits):
        quality = metrics.qubit(qubit)
        e01, e10 = quality.readout_error_0_to_1, quality.readout_error_1_to_0
        lam = noise.prx_lambda(qubit)
        scores["e01"].append(score(float(zeros["m"][:, column].mean()), e01, shots))
        expected_1 = read_1(1 - lam / 2, e01, e10)
        scores["e10"].append(score(float(ones["m"][:, column].mean()), expected_1, shots))
        for pairs in PULSE_PAIRS:
            pulses = [prx(qubit, 0.5) for _ in range(2 * pairs)]
            decayed = Circuit(name="d", instructions=[*pulses, measure(qubit)])
            bits = simulate_noisy(decayed, shots, rng, noise)["m"]
            expected = read_1((1 - (1 - lam) ** (2 * pairs)) / 2, e01, e10)
            scores["prx decay"].append(score(float(bits.mean()), expected, shots))
    return scores


def main() -> None:
    options = dict(arg.removeprefix("--").split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    shots = int(options.get("shots", 20_000))
    merged: dict[str, list[float]] = {}
    for seed in (1, 2, 3):
        for kind, values in chip_scores(seed, shots).items():
            merged.setdefault(kind, []).extend(values)
    print(f"{shots} shots per figure; generated chips with seeds 1-3, {NOISY_MAX_QUBITS} "
          "qubits each")  # fmt: skip
    print(f"{'figure':<12}{'n':>4}{'max |z|':>9}{'|z| <= 2':>10}{'mean z**2':>11}{'(se)':>7}")
    for kind, values in [*merged.items(), ("all", [z for v in merged.values() for z in v])]:
        z = np.asarray(values)
        within = float(np.mean(np.abs(z) <= 2))
        print(f"{kind:<12}{len(z):>4}{np.max(np.abs(z)):>9.2f}{within:>10.0%}"
              f"{np.mean(z**2):>11.2f}{math.sqrt(2 / len(z)):>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
