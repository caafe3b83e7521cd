"""Physics of the emulator's state-vector simulator, each with a fixed seed (no event loop)."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from iqm_async.emulator.simulator import (
    MAX_QUBITS,
    SimulationError,
    prx_matrix,
    simulate,
)
from iqm_async.models import Circuit


def prx(q: str, angle_t: float, phase_t: float = 0.0) -> dict[str, Any]:
    return {"name": "prx", "qubits": [q], "args": {"angle_t": angle_t, "phase_t": phase_t}}


def cz(a: str, b: str) -> dict[str, Any]:
    return {"name": "cz", "qubits": [a, b], "args": {}}


def measure(key: str, *qubits: str, **extra: Any) -> dict[str, Any]:
    return {"name": "measure", "qubits": list(qubits), "args": {"key": key, **extra}}


def circuit(*instructions: dict[str, Any], name: str = "c") -> Circuit:
    return Circuit.model_validate({"name": name, "instructions": list(instructions)})


def hadamard_like(q: str) -> list[dict[str, Any]]:
    """prx(π/2) about y: |0> -> |+>."""
    return [prx(q, 0.25, 0.25)]


def cnot(control: str, target: str) -> list[dict[str, Any]]:
    """CNOT from native gates: Ry(-π/2) . CZ . Ry(π/2) on the target."""
    return [prx(target, 0.25, 0.25), cz(control, target), prx(target, -0.25, 0.25)]


def bell() -> Circuit:
    return circuit(*hadamard_like("a"), *cnot("a", "b"), measure("m", "a", "b"))


def test_bell_gives_only_00_and_11_evenly() -> None:
    result = simulate(bell(), 4000, np.random.default_rng(11))
    counts = Counter(tuple(bits) for bits in result["m"])
    assert set(counts) == {(0, 0), (1, 1)}
    for outcome in counts:
        assert abs(counts[outcome] / 4000 - 0.5) <= 0.05


@pytest.mark.parametrize("theta", [0.0, 0.3, 0.7, 1.0, math.pi / 2, 2.0, 2.5, math.pi])
def test_single_prx_gives_sin_squared(theta: float) -> None:
    shots = 20_000
    c = circuit(prx("q", theta / (2 * math.pi), 0.13), measure("m", "q"))
    result = simulate(c, shots, np.random.default_rng(5))
    p_one = sum(bits[0] for bits in result["m"]) / shots
    expected = math.sin(theta / 2) ** 2
    # 4 standard deviations of a binomial estimate (and a floor for p = 0 or 1).
    tolerance = max(4 * math.sqrt(expected * (1 - expected) / shots), 1e-9)
    assert abs(p_one - expected) <= tolerance


def test_ghz_12_gives_only_all_zeros_and_all_ones() -> None:
    qubits = [f"QB{i}" for i in range(1, 13)]
    instructions = hadamard_like(qubits[0])
    for control, target in itertools.pairwise(qubits):
        instructions += cnot(control, target)
    instructions += [measure(f"c{i}", q) for i, q in enumerate(qubits)]
    result = simulate(circuit(*instructions), 2000, np.random.default_rng(3))
    assert list(result) == [f"c{i}" for i in range(12)]
    shots = {tuple(result[f"c{i}"][s][0] for i in range(12)) for s in range(2000)}
    assert shots == {(0,) * 12, (1,) * 12}


def test_identity_from_prx_and_cz_returns_all_zeros() -> None:
    qubits = ["a", "b", "c", "d"]
    forward = [
        prx("a", 0.17, 0.31),
        prx("b", 0.42, -0.2),
        cz("a", "b"),
        prx("c", 0.25, 0.9),
        cz("b", "c"),
        prx("d", 0.61, 0.05),
        cz("c", "d"),
        prx("a", 0.33, 0.44),
    ]
    # The inverse: reversed order, prx(θ, φ)^-1 = prx(-θ, φ), cz self-inverse.
    inverse = [
        prx(i["qubits"][0], -i["args"]["angle_t"], i["args"]["phase_t"])
        if i["name"] == "prx"
        else i
        for i in reversed(forward)
    ]
    c = circuit(*forward, {"name": "barrier", "qubits": qubits, "args": {}}, *inverse,
                measure("m", *qubits))  # fmt: skip
    result = simulate(c, 500, np.random.default_rng(0))
    assert {tuple(bits) for bits in result["m"]} == {(0, 0, 0, 0)}


def test_prx_matrix_is_unitary_and_matches_convention() -> None:
    u = prx_matrix(0.1, 0.35)
    assert np.allclose(u @ u.conj().T, np.eye(2))
    theta, phi = 2 * math.pi * 0.1, 2 * math.pi * 0.35
    rz = np.diag([np.exp(-0.5j * phi), np.exp(0.5j * phi)])
    rx = np.array(
        [[math.cos(theta / 2), -1j * math.sin(theta / 2)],
         [-1j * math.sin(theta / 2), math.cos(theta / 2)]]
    )  # fmt: skip
    assert np.allclose(u, rz @ rx @ rz.conj().T)


def test_same_seed_same_results_and_different_seed_differs() -> None:
    a = simulate(bell(), 300, np.random.default_rng(99))
    b = simulate(bell(), 300, np.random.default_rng(99))
    c = simulate(bell(), 300, np.random.default_rng(100))
    assert a == b
    assert a != c


def test_keys_follow_measure_order_and_qubit_order_within_a_key() -> None:
    c = circuit(prx("x", 0.5), measure("second", "y", "x"), measure("first", "x"))
    result = simulate(c, 5, np.random.default_rng(1))
    assert list(result) == ["second", "first"]
    assert result["second"] == [[0, 1]] * 5  # y reads 0, x reads 1, in that order
    assert result["first"] == [[1]] * 5


def test_simulates_only_touched_qubits() -> None:
    # Twenty named qubits but only two touched: cheap, and high names are fine.
    c = circuit(prx("QB20", 0.5), measure("m", "QB20", "QB7"))
    assert simulate(c, 3, np.random.default_rng(1))["m"] == [[1, 0]] * 3


def test_too_many_qubits_is_refused() -> None:
    qubits = [f"q{i}" for i in range(MAX_QUBITS + 1)]
    c = circuit(measure("m", *qubits))
    with pytest.raises(SimulationError, match="at most 20"):
        simulate(c, 1, np.random.default_rng(1))


def test_shots_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        simulate(bell(), 0, np.random.default_rng(1))


def test_readout_noise_flips_bits_at_the_given_rates() -> None:
    c = circuit(prx("one", 0.5), measure("m", "zero", "one"))
    shots = 20_000
    result = np.array(
        simulate(c, shots, np.random.default_rng(8), {"zero": (0.1, 0.0), "one": (0.0, 0.3)})["m"]
    )
    assert abs(result[:, 0].mean() - 0.1) < 0.01  # P(read 1 | 0) = 0.1
    assert abs((1 - result[:, 1]).mean() - 0.3) < 0.015  # P(read 0 | 1) = 0.3


def test_mid_circuit_measurement_collapses_the_state() -> None:
    # Measure a |+> qubit, then copy it onto b: a and b always agree with the first record.
    c = circuit(
        *hadamard_like("a"),
        measure("early", "a"),
        *cnot("a", "b"),
        measure("late", "a", "b"),
    )
    result = simulate(c, 1000, np.random.default_rng(4))
    pairs = {(e[0], tuple(lt)) for e, lt in zip(result["early"], result["late"], strict=True)}
    assert pairs == {(0, (0, 0)), (1, (1, 1))}


def test_cc_prx_flips_target_when_the_feedback_bit_is_one() -> None:
    c = circuit(
        *hadamard_like("a"),
        measure("fb", "a", feedback_key="f"),
        {
            "name": "cc_prx",
            "qubits": ["b"],
            "args": {"angle_t": 0.5, "phase_t": 0.0, "feedback_key": "f", "feedback_qubit": "a"},
        },
        measure("m", "b"),
    )
    result = simulate(c, 1000, np.random.default_rng(6))
    assert all(f == m for f, m in zip(result["fb"], result["m"], strict=True))
    assert 400 < sum(bits[0] for bits in result["m"]) < 600


def test_reset_returns_a_qubit_to_zero() -> None:
    c = circuit(*hadamard_like("a"), {"name": "reset", "qubits": ["a"], "args": {}},
                measure("m", "a"))  # fmt: skip
    assert simulate(c, 200, np.random.default_rng(2))["m"] == [[0]] * 200


def test_move_exchanges_qubit_and_resonator_states() -> None:
    # Move |1> into the resonator, cz with another qubit's |1> via the resonator, move back.
    c = circuit(
        prx("QB1", 0.5),
        prx("QB2", 0.25, 0.25),  # |+>
        {"name": "move", "qubits": ["QB1", "COMP_R"], "args": {}},
        cz("QB2", "COMP_R"),  # |+> -> |->, since the resonator holds |1>
        {"name": "move", "qubits": ["QB1", "COMP_R"], "args": {}},
        prx("QB2", -0.25, 0.25),  # |-> -> |1>
        measure("m", "QB1", "QB2"),
    )
    assert simulate(c, 50, np.random.default_rng(3))["m"] == [[1, 1]] * 50


def test_old_gate_names_work() -> None:
    c = circuit(
        {"name": "phased_rx", "qubits": ["a"], "args": {"angle_t": 0.5, "phase_t": 0.0}},
        {"name": "measurement", "qubits": ["a"], "args": {"key": "m"}},
    )
    assert simulate(c, 4, np.random.default_rng(1))["m"] == [[1]] * 4


def test_twenty_qubit_circuit_runs() -> None:
    qubits = [f"QB{i}" for i in range(1, 21)]
    instructions = [prx(q, 0.5) for q in qubits] + [measure("m", *qubits)]
    result = simulate(circuit(*instructions), 10, np.random.default_rng(1))
    assert result["m"] == [[1] * 20] * 10


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_draw_gives_what_rng_choice_gives(size: int) -> None:
    from iqm_async.emulator.simulator import _draw

    weights = np.array([0.5, 0.0, 2.0, 1.5])  # not normalised, with an impossible outcome
    expected = np.random.default_rng(11).choice(4, size=size, p=weights / weights.sum())
    assert np.array_equal(_draw(weights, size, np.random.default_rng(11)), expected)
