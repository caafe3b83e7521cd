"""The noise the emulator derives from its quality metrics, checked statistically: measured
readout errors, single-qubit and CZ gate decay and idle T1 decay match the configured
figures within four standard errors (each run is seeded, so the numbers never change)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.core import Device
from iqm_async.emulator.noise import (
    NOISY_MAX_QUBITS,
    NoiseModel,
    depolarizing_lambda,
    noise_model,
    simulate_noisy,
)
from iqm_async.emulator.simulator import SimulationError, simulate_arrays
from iqm_async.models import Circuit, Instruction
from iqm_async.quality import QualityMetrics, QubitQuality

SHOTS = 20_000


def prx(qubit: str, angle_t: float, phase_t: float = 0.0, **extra: Any) -> Instruction:
    return Instruction(
        name="prx" if not extra else "cc_prx",
        qubits=(qubit,),
        args={"angle_t": angle_t, "phase_t": phase_t, **extra},
    )


def cz(a: str, b: str) -> Instruction:
    return Instruction(name="cz", qubits=(a, b))


def measure(key: str, *qubits: str, **extra: Any) -> Instruction:
    return Instruction(name="measure", qubits=qubits, args={"key": key, **extra})


def circuit(*instructions: Instruction) -> Circuit:
    return Circuit(name="c", instructions=list(instructions))


def noisy_device(**config: Any) -> Device:
    device: Device = create_app(EmulatorConfig(seed=11, noise=True, **config)).state.emulator.device
    assert device.metrics is not None and device.noise is not None
    return device


def within_4_sigma(measured: float, expected: float, shots: int = SHOTS) -> bool:
    sigma = math.sqrt(max(expected * (1 - expected), 1e-12) / shots)
    return abs(measured - expected) <= 4 * sigma


def read_1(p_state_1: float, e01: float, e10: float) -> float:
    """P(read 1) for a qubit in state 1 with probability ``p_state_1``."""
    return p_state_1 * (1 - e10) + (1 - p_state_1) * e01


def readout_of(metrics: QualityMetrics, qubit: str) -> tuple[float, float]:
    quality = metrics.qubit(qubit)
    assert quality.readout_error_0_to_1 is not None and quality.readout_error_1_to_0 is not None
    return quality.readout_error_0_to_1, quality.readout_error_1_to_0


def test_measured_readout_errors_match_the_metrics() -> None:
    device = noisy_device()
    assert device.metrics is not None and device.noise is not None
    qubits = [f"QB{i}" for i in range(1, NOISY_MAX_QUBITS + 1)]
    rng = np.random.default_rng(1)
    zeros = simulate_noisy(circuit(measure("m", *qubits)), SHOTS, rng, device.noise)["m"]
    flipped = circuit(*(prx(q, 0.5) for q in qubits), measure("m", *qubits))
    ones = simulate_noisy(flipped, SHOTS, rng, device.noise)["m"]
    for column, qubit in enumerate(qubits):
        e01, e10 = readout_of(device.metrics, qubit)
        lam = device.noise.prx_lambda(qubit)  # the prx leaves |0> with probability lam / 2
        measured_e01 = float(zeros[:, column].mean())
        measured_e10 = 1 - float(ones[:, column].mean())
        expected_e10 = 1 - read_1(1 - lam / 2, e01, e10)
        assert within_4_sigma(measured_e01, e01), (qubit, measured_e01, e01)
        assert within_4_sigma(measured_e10, expected_e10), (qubit, measured_e10, expected_e10)
    # The two errors differ per qubit as configured (not one symmetric figure).
    assert float(ones.mean()) < 1 - float(zeros.mean())


@pytest.mark.parametrize("pairs", [0, 25, 100, 400])
def test_single_qubit_gate_decay_follows_the_depolarising_model(pairs: int) -> None:
    device = noisy_device()
    assert device.metrics is not None and device.noise is not None
    # The worst qubit, so that the decay is large enough to see.
    qubit = min(device.metrics.qubits, key=lambda q: device.metrics.qubit(q).prx_fidelity or 1)  # type: ignore[union-attr]
    fidelity = device.metrics.qubit(qubit).prx_fidelity
    assert fidelity is not None
    lam = depolarizing_lambda(1 - fidelity, 1)
    assert lam == pytest.approx(2 * (1 - fidelity))
    pulses = [prx(qubit, 0.5) for _ in range(2 * pairs)]  # pi-pulse pairs: ideally nothing
    bits = simulate_noisy(
        circuit(*pulses, measure("m", qubit)), SHOTS, np.random.default_rng(pairs), device.noise
    )["m"]
    survival = (1 - lam) ** (2 * pairs)  # the Bloch vector shrinks by (1 - lam) per gate
    expected = read_1((1 - survival) / 2, *readout_of(device.metrics, qubit))
    measured = float(bits.mean())
    assert within_4_sigma(measured, expected), (measured, expected)
    if pairs == 400:
        noiseless = read_1(0.0, *readout_of(device.metrics, qubit))
        assert not within_4_sigma(measured, noiseless)  # the check can tell decay from none


def test_cz_decay_follows_the_two_qubit_depolarising_model() -> None:
    device = noisy_device()
    assert device.metrics is not None and device.noise is not None
    (a, b), fidelity = min(device.metrics.cz_fidelity.items(), key=lambda item: item[1])
    lam2 = depolarizing_lambda(1 - fidelity, 2)
    assert lam2 == pytest.approx(4 / 3 * (1 - fidelity))
    count = 40
    noisy = circuit(prx(a, 0.5), prx(b, 0.5), *(cz(a, b) for _ in range(count)), measure("m", a, b))
    bits = simulate_noisy(noisy, SHOTS, np.random.default_rng(5), device.noise)["m"]
    # Each qubit: state 1 after the prx with 1 - lam1/2; each cz keeps the joint state with
    # 1 - lam2 and otherwise leaves a qubit in 1 with probability 1/2.
    survival = (1 - lam2) ** count
    for column, qubit in enumerate((a, b)):
        lam1 = device.noise.prx_lambda(qubit)
        p_one = survival * (1 - lam1 / 2) + (1 - survival) / 2
        expected = read_1(p_one, *readout_of(device.metrics, qubit))
        assert within_4_sigma(float(bits[:, column].mean()), expected)


def test_idle_qubits_relax_with_t1() -> None:
    device = noisy_device(idle_noise=True)
    assert device.metrics is not None and device.noise is not None
    qubit = "QB2"
    t1 = device.metrics.qubit(qubit).t1_s
    assert t1 is not None
    wait = Instruction(name="delay", qubits=(qubit,), args={"duration": t1})
    bits = simulate_noisy(
        circuit(prx(qubit, 0.5), wait, measure("m", qubit)),
        SHOTS,
        np.random.default_rng(2),
        device.noise,
    )["m"]
    p_one = (1 - device.noise.prx_lambda(qubit) / 2) * math.exp(-1)
    expected = read_1(p_one, *readout_of(device.metrics, qubit))
    assert within_4_sigma(float(bits.mean()), expected), (float(bits.mean()), expected)


def test_a_qubit_waiting_for_others_decays_only_with_idle_noise() -> None:
    slow = [prx("QB1", 0.5) for _ in range(2000)]  # 40 µs of gates on QB1 while QB2 waits
    program = circuit(prx("QB2", 0.5), *slow, measure("m", "QB1", "QB2"))
    quality = QubitQuality(prx_fidelity=1.0, t1_s=20e-6, t2_s=10e-6)
    metrics = QualityMetrics(qubits={"QB1": quality, "QB2": quality})
    rng = np.random.default_rng(3)
    busy = simulate_noisy(program, 4000, rng, noise_model(metrics, idle=True))["m"]
    assert float(busy[:, 1].mean()) == pytest.approx(math.exp(-2), abs=0.04)
    still = simulate_noisy(program, 4000, rng, noise_model(metrics, idle=False))["m"]
    assert float(still[:, 1].mean()) == 1.0


def test_missing_figures_are_the_worst_published_not_perfect() -> None:
    metrics = QualityMetrics(
        qubits={"QB1": QubitQuality(prx_fidelity=0.99), "QB2": QubitQuality(prx_fidelity=0.98)},
        cz_fidelity={("QB1", "QB2"): 0.95},
    )
    model = noise_model(metrics)
    assert model.prx_lambda("QB9") == pytest.approx(0.04)
    assert model.pair_lambda("cz", "QB8", "QB9") == pytest.approx(4 / 3 * 0.05)
    assert model.pair_lambda("cz", "QB2", "QB1") == pytest.approx(4 / 3 * 0.05)
    readout = noise_model(
        QualityMetrics(
            qubits={
                "QB1": QubitQuality(readout_error_0_to_1=0.01, readout_error_1_to_0=0.03),
                "QB2": QubitQuality(readout_fidelity=0.9),
                "QB3": QubitQuality(t1_s=1e-5),
            }
        )
    ).readout
    assert readout["QB1"] == (0.01, 0.03)
    assert readout["QB2"] == pytest.approx((0.1, 0.1))
    assert readout["QB3"] == pytest.approx((0.1, 0.1))  # nothing published: the worst


def test_without_noise_figures_the_density_matrix_agrees_with_the_state_vector() -> None:
    # Mid-circuit measurement feeding cc_prx, reset and move: every shot is determined.
    program = circuit(
        prx("QB1", 0.5),
        measure("fb", "QB1", feedback_key="f"),
        prx("QB2", 0.5, feedback_key="f", feedback_qubit="QB1"),
        Instruction(name="reset", qubits=("QB1",)),
        prx("QB3", 0.25, 0.25),
        measure("mid", "QB3", feedback_key="g"),
        prx("QB4", 0.5, feedback_key="g", feedback_qubit="QB3"),
        Instruction(name="move", qubits=("QB5", "COMP_R")),
        measure("end", "QB1", "QB2", "QB3", "QB4"),
    )
    noisy = simulate_noisy(program, 2000, np.random.default_rng(4), NoiseModel())
    exact = simulate_arrays(program, 2000, np.random.default_rng(4))
    for bits in (noisy, exact):
        assert bits["fb"].tolist() == [[1]] * 2000
        end = bits["end"]
        assert (end[:, 0] == 0).all() and (end[:, 1] == 1).all()
        assert (end[:, 2] == end[:, 3]).all()  # QB4 copies QB3's mid-circuit result
        assert (end[:, 2] == bits["mid"][:, 0]).all()
        assert 0.45 < end[:, 2].mean() < 0.55


def test_noise_is_deterministic_with_a_seed_and_changes_results() -> None:
    program = circuit(prx("QB1", 0.25), cz("QB1", "QB2"), measure("m", "QB1", "QB2"))
    device = noisy_device()
    assert device.noise is not None
    first = simulate_noisy(program, 3000, np.random.default_rng(8), device.noise)["m"]
    again = simulate_noisy(program, 3000, np.random.default_rng(8), device.noise)["m"]
    clean = simulate_noisy(program, 3000, np.random.default_rng(8), NoiseModel())["m"]
    assert first.tolist() == again.tolist()
    assert first.tolist() != clean.tolist()


def test_too_many_qubits_with_noise_is_refused() -> None:
    qubits: Sequence[str] = [f"QB{i}" for i in range(1, NOISY_MAX_QUBITS + 2)]
    with pytest.raises(SimulationError, match=r"touches 11 qubits; with noise on .* at most 10"):
        simulate_noisy(circuit(measure("m", *qubits)), 10, np.random.default_rng(), NoiseModel())
