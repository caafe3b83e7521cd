"""Sweeps compiled once: symbolic compilation, the translation template, binding checks, and
identical circuits compiled once (pure; no server)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
import pytest
import sympy
from pytket.circuit import Circuit, Node, OpType
from pytket.predicates import CompilationUnit
from sample_circuits import garnet
from test_compiler_helpers import assert_same_unitary, random_circuit

from iqm_async.compiler import (
    CircuitSweep,
    check_sweep,
    compile_circuits,
    default_compilation_pass,
    translate_for_run,
    translate_json,
    translate_sweep,
)
from iqm_async.compiler import _pool as compile_pool
from iqm_async.compiler._expressions import evaluate_columns
from iqm_async.errors import CircuitValidationError, ConfigurationError

ARCH = garnet(6)


def symbolic_circuit(n_qubits: int, layers: int, seed: int) -> tuple[Circuit, list[sympy.Symbol]]:
    """A seeded random circuit whose rotations (and some two-qubit gates) are symbolic."""
    rng = random.Random(seed)
    circuit = Circuit(n_qubits, name=f"sym{seed}")
    symbols: list[sympy.Symbol] = []
    for _ in range(layers):
        for q in range(n_qubits):
            s = sympy.Symbol(f"s{len(symbols)}")
            symbols.append(s)
            kind = rng.randrange(5)
            if kind == 0:
                circuit.H(q).Rz(s, q)
            elif kind == 1:
                circuit.Rz(s * rng.choice([1, 2, -0.5]) + 0.25, q)
            elif kind == 2:
                circuit.Rx(s, q)
            elif kind == 3:
                circuit.Ry(2 * s, q)
            else:
                circuit.add_gate(OpType.PhasedX, [s, rng.uniform(0, 2)], [q])
        qubits = list(range(n_qubits))
        rng.shuffle(qubits)
        for a, b in zip(qubits[::2], qubits[1::2], strict=False):
            gate = rng.choice(["CX", "CZ", "CU1", "ZZPhase", "XXPhase"])
            if gate in ("CX", "CZ"):
                circuit.add_gate(OpType.CX if gate == "CX" else OpType.CZ, [a, b])
            elif gate == "CU1":
                circuit.add_gate(OpType.CU1, [symbols[-1]], [a, b])
            elif gate == "ZZPhase":
                circuit.ZZPhase(symbols[-2] + 0.1, a, b)
            else:
                circuit.XXPhase(symbols[-1], a, b)
    return circuit, symbols


def bindings_for(symbols: list[sympy.Symbol], seed: int) -> list[dict[sympy.Symbol, float]]:
    """Random values, plus special ones (0, halves) where rotations become Cliffords."""
    rng = random.Random(seed)
    points = [{s: rng.uniform(-4, 4) for s in symbols} for _ in range(3)]
    points.append({s: rng.choice([0.0, 0.5, 1.0, 1.5, -0.5]) for s in symbols})
    points.append(dict.fromkeys(symbols, 0.0))
    return points


def from_wire(text: str, wires: list[Any]) -> Circuit:
    """A pytket circuit on ``wires`` doing what the wire JSON says (measurements dropped)."""
    circuit = Circuit()
    for qubit in wires:
        circuit.add_qubit(qubit)
    for inst in json.loads(text)["instructions"]:
        nodes = [Node(int(name[2:]) - 1) for name in inst["qubits"]]
        if inst["name"] == "prx":
            angles = [2 * inst["args"]["angle_t"], 2 * inst["args"]["phase_t"]]
            circuit.add_gate(OpType.PhasedX, angles, nodes)
        elif inst["name"] == "cz":
            circuit.CZ(*nodes)
    return circuit


# --- compiled once == compiled per point ------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 2])
def test_compiled_once_acts_as_the_circuit_for_every_binding(level: int) -> None:
    """Must show: compile the symbolic circuit once, fill the template per binding: the wire
    circuit acts as the original with that binding substituted (placement undone, up to
    global phase), for random and special values; and so as substituting then compiling,
    which the compiler tests check the same way."""
    pass_ = default_compilation_pass(ARCH, level)
    for seed in range(8):
        original, symbols = symbolic_circuit(2 + seed % 4, 2 + seed % 3, seed=100 * level + seed)
        unit = CompilationUnit(original.copy())
        pass_.apply(unit)
        compiled = unit.circuit
        assert compiled.free_symbols(), "compiling must keep symbols symbolic"
        bindings = bindings_for(symbols, seed)
        kept = {s.name for s in compiled.free_symbols()}
        wires, _ = translate_sweep(
            compiled, [{s: v for s, v in b.items() if s.name in kept} for b in bindings]
        )
        for binding, wire in zip(bindings, wires, strict=True):
            substituted = original.copy()
            substituted.symbol_substitution(binding)
            run = from_wire(wire.json, compiled.qubits)
            assert_same_unitary(substituted, run, unit.initial_map, unit.final_map)
            # And compiling per point gives a circuit with the same action.
            per_point = CompilationUnit(substituted.copy())
            pass_.apply(per_point)
            assert_same_unitary(
                substituted, per_point.circuit, per_point.initial_map, per_point.final_map
            )


def test_template_matches_substitute_then_translate() -> None:
    """The template's wire JSON is what pytket's substitution + translate_json give, angle for
    angle (up to each angle's period), with the same names, qubits and layout."""
    original, symbols = symbolic_circuit(4, 3, seed=5)
    compiled = compile_circuits([original.measure_all()], ARCH, 2)[0]
    kept = sorted(compiled.free_symbols(), key=str)
    bindings = [{s: v for s, v in b.items() if s in kept} for b in bindings_for(symbols, 9)]
    sweep = CircuitSweep(compiled)
    wires = sweep.translate_json(bindings, name="point")
    for k, (binding, wire) in enumerate(zip(bindings, wires, strict=True)):
        substituted = compiled.copy()
        substituted.symbol_substitution(binding)
        expected, layout = translate_json(substituted, name=f"point_{k}")
        assert (wire.qubits, wire.measured) == (expected.qubits, expected.measured)
        assert sweep.layout == layout
        ours, theirs = json.loads(wire.json), json.loads(expected.json)
        assert ours["name"] == theirs["name"] == f"point_{k}"
        assert len(ours["instructions"]) == len(theirs["instructions"])
        for a, b in zip(ours["instructions"], theirs["instructions"], strict=True):
            assert (a["name"], a["qubits"]) == (b["name"], b["qubits"])
            if a["name"] == "prx":
                for arg, period in (("angle_t", 2.0), ("phase_t", 1.0)):
                    gap = (a["args"][arg] - b["args"][arg]) % period
                    assert min(gap, period - gap) < 1e-9, (a, b)
            else:
                assert a["args"] == b["args"]


def test_angles_are_reduced_into_one_period_in_full_turns() -> None:
    theta = sympy.Symbol("theta")
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_gate(OpType.PhasedX, [theta, 3 * theta], [Node(0)])
    sweep = CircuitSweep(circuit)
    # theta = 5.5 half-turns: angle 5.5 mod 4 = 1.5 -> 0.75 turns; phase 16.5 mod 2 = 0.5
    # -> 0.25 turns.
    assert sweep.angles([{"theta": 5.5}]).tolist() == [[0.75, 0.25]]
    (wire,) = sweep.translate_json([{theta: 5.5}])
    assert json.loads(wire.json)["instructions"][0]["args"] == {"angle_t": 0.75, "phase_t": 0.25}


def test_numeric_circuit_sweeps_to_copies_and_keys_stay_escaped() -> None:
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    bit = circuit.add_c_register("100%", 1)[0]
    circuit.add_gate(OpType.PhasedX, [0.5, 0.0], [Node(0)]).Measure(Node(0), bit)
    wires, layout = translate_sweep(circuit, [{}, {}], name="n")
    expected, expected_layout = translate_json(circuit, name="n_1")
    assert json.loads(wires[1].json) == json.loads(expected.json)
    assert layout == expected_layout


def test_compile_circuits_keeps_symbols_at_every_level() -> None:
    theta = sympy.Symbol("theta")
    circuit = Circuit(3).Ry(theta, 0).CX(0, 1).CX(1, 2).Rx(theta, 2).measure_all()
    for level in (0, 1, 2):
        (compiled,) = compile_circuits([circuit], ARCH, level)
        assert compiled.free_symbols() == {theta}, level


# --- bad bindings -------------------------------------------------------------------------------


def _sweep() -> CircuitSweep:
    theta, phi = sympy.Symbol("theta"), sympy.Symbol("phi")
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_gate(OpType.PhasedX, [theta, phi], [Node(0)])
    return CircuitSweep(circuit)


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ([{"theta": 0.1}], "symbol_bindings[0] gives no value for symbol 'phi' of the circuit"),
        (
            [{"theta": 0.1, "phi": 0.2}, {"theta": 0.1, "phi": 0.2, "thteta": 1.0}],
            "symbol_bindings[1] gives symbol 'thteta', which the circuit does not have (its "
            "symbols: 'phi', 'theta')",
        ),
        ([{"theta": "0.5", "phi": 0.2}], "gives symbol 'theta' the value '0.5' (str); give a real"),
        ([{"theta": None, "phi": 0.2}], "gives symbol 'theta' the value None (NoneType)"),
        ([{"theta": 1j, "phi": 0.2}], "gives symbol 'theta' the value 1j (complex)"),
        ([{"theta": True, "phi": 0.2}], "gives symbol 'theta' the value True (bool)"),
        ([{"theta": sympy.nan, "phi": 0.2}], "gives symbol 'theta' the value nan"),
        ([{"theta": math.nan, "phi": 0.2}], "gives symbol 'theta' the value nan; give a finite"),
        ([{"theta": 0.1, "phi": -math.inf}], "gives symbol 'phi' the value -inf; give a finite"),
        ([{"theta": 0.1, "phi": np.float64("inf")}], "symbol 'phi' the value inf"),
        ([{3: 0.1, "phi": 0.2}], "has the key 3 (int); keys must be sympy Symbols or their names"),
        (
            [{"theta": 0.1, sympy.Symbol("theta"): 0.1, "phi": 0.2}],
            "gives symbol 'theta' twice (as a Symbol and as a name)",
        ),
        ([], "symbol_bindings is empty"),
        ({"theta": 0.1, "phi": 0.2}, "must be a list of mappings (one per point), got dict"),
        ("theta", "must be a list of mappings (one per point), got str"),
        ([{"theta": 0.1, "phi": 0.2}, [0.1, 0.2]], "symbol_bindings[1] is a list, not a mapping"),
    ],
)
def test_bad_bindings_are_refused_naming_the_point_and_symbol(bindings: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _sweep().translate_json(bindings)
    assert message in str(caught.value)


def test_numpy_and_sympy_numbers_are_accepted() -> None:
    values = [np.float32(0.5), np.int64(1), sympy.Float(0.25), sympy.Rational(1, 2), 2]
    for value in values:
        assert _sweep().angles([{"theta": value, "phi": 0}]).shape == (1, 2)


def test_angle_that_is_not_finite_names_the_point() -> None:
    a = sympy.Symbol("a")
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_gate(OpType.PhasedX, [1 / a, 0], [Node(0)])
    with pytest.raises(CircuitValidationError) as caught:
        CircuitSweep(circuit).translate_json([{"a": 1.0}, {"a": 0.0}])
    assert "For symbol_bindings[1] an angle of the circuit is not a finite number" in str(
        caught.value
    )


def test_check_sweep_checks_every_circuit_before_any_is_translated() -> None:
    a, b = sympy.Symbol("a"), sympy.Symbol("b")
    first = Circuit(1, name="first").Rx(a, 0)
    second = Circuit(1).Rx(b, 0)
    assert check_sweep([first, second], None) == 1
    assert check_sweep([first], [{"a": 1}, {"a": 2}]) == 2
    with pytest.raises(ConfigurationError) as caught:
        check_sweep([first, second], [{"a": 1}])
    assert "symbol_bindings[0] gives symbol 'a', which circuit 1 ('circuit_1') does not" in str(
        caught.value
    )


def test_translate_for_run_with_postprocess_substitutes_each_point() -> None:
    theta = sympy.Symbol("theta")
    circuit = compile_circuits([Circuit(2).Ry(theta, 0).CX(0, 1).measure_all()], ARCH, 1)[0]
    runs = list(
        translate_for_run([circuit], postprocess=True, symbol_bindings=[{theta: 0.0}, {theta: 1.0}])
    )
    assert [r.source for r in runs] == [0, 0]
    assert all(r.ppcirc is not None for r in runs)
    names = [json.loads(r.wire.json)["name"] for r in runs]
    assert names == [f"{circuit.name or 'circuit_0'}_{k}" for k in (0, 1)]


# --- identical circuits compiled once -----------------------------------------------------------


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    compile_one = compile_pool._compile_one

    def counted(pass_: Any, circuit: Circuit, index: int) -> Circuit:
        calls.append(index)
        return compile_one(pass_, circuit, index)

    monkeypatch.setattr(compile_pool, "_compile_one", counted)
    return calls


def test_identical_circuits_are_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Must show: one pass run per distinct circuit; every output equals its own serial
    compilation, is its own object and keeps its own name."""
    calls = _counting(monkeypatch)
    a = random_circuit(4, 3, seed=1).measure_all()
    b = random_circuit(4, 3, seed=2).measure_all()
    renamed = a.copy()
    renamed.name = "renamed"
    unnamed_b = Circuit.from_dict({k: v for k, v in b.to_dict().items() if k != "name"})
    named_b = b.copy()
    named_b.name = "named"
    circuits = [named_b, a, a, renamed, unnamed_b, b]
    compiled = compile_circuits(circuits, ARCH, 2)
    assert calls == [0, 1]
    for circuit, result in zip(circuits, compiled, strict=True):
        alone = circuit.copy()
        default_compilation_pass(ARCH, 2).apply(alone)
        assert result == alone
        assert result.name == circuit.name
    assert len({id(c) for c in compiled}) == len(compiled)


class _InlineExecutor(Executor):
    """Runs each submitted function at once, in this thread, and counts them."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_identical_circuits_are_compiled_once_on_an_executor() -> None:
    circuits = [random_circuit(3, 2, seed=s % 2) for s in range(6)]
    executor = _InlineExecutor()
    compiled = compile_circuits(circuits, ARCH, 1, executor=executor)
    assert executor.submitted == 2
    assert compiled == compile_circuits(circuits, ARCH, 1)


def test_circuits_differing_only_in_phase_or_symbols_are_not_merged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _counting(monkeypatch)
    a, b = sympy.Symbol("a"), sympy.Symbol("b")
    plain = Circuit(2).Rx(a, 0).CX(0, 1)
    phased = plain.copy().add_phase(0.5)
    other_symbol = Circuit(2).Rx(b, 0).CX(0, 1)
    compile_circuits([plain, phased, other_symbol], ARCH, 0)
    assert calls == [0, 1, 2]


# --- evaluating the angle expressions ----------------------------------------------------------


def test_expressions_evaluate_as_lambdify_does() -> None:
    x, y = sympy.symbols("x y")
    expressions = [
        x + 1,
        2 * x * y - sympy.pi / 3,
        sympy.atan2(sympy.sin(x), sympy.cos(y)) / sympy.pi,
        sympy.sqrt(x**2 + y**2) + sympy.exp(-x) * sympy.log(2 + y**2),
        sympy.Abs(x - y) + sympy.sign(x) + sympy.floor(y) + sympy.ceiling(x),
        sympy.tan(x / 3) + sympy.tanh(y) + sympy.sinh(x) - sympy.cosh(y) + sympy.atan(x),
        sympy.asin(sympy.sin(x) / 2) + sympy.acos(sympy.cos(y) / 2),
        x**y,  # a symbolic exponent
        sympy.Max(x, y) + sympy.asinh(x),  # not in our table: lambdify evaluates them
        sympy.Float(0.25),
    ]
    rng = np.random.default_rng(4)
    columns = {"x": rng.uniform(0.1, 3, 7), "y": rng.uniform(-3, 3, 7)}
    values = evaluate_columns(expressions, columns, 7)
    for index, expression in enumerate(expressions):
        expected = sympy.lambdify([x, y], expression, "numpy")(columns["x"], columns["y"])
        assert np.allclose(values[:, index], expected, rtol=1e-12, atol=1e-12), expression


def test_rounding_just_outside_a_domain_is_not_a_nan() -> None:
    x = sympy.Symbol("x")
    expressions = [sympy.acos(x), sympy.asin(-x), sympy.sqrt(x - 1)]
    near = evaluate_columns(expressions, {"x": np.array([1 + 1e-15, 1 - 1e-15])}, 2)
    assert np.isfinite(near).all()
    assert np.allclose(near, [[0, -np.pi / 2, 0], [0, -np.pi / 2, 0]], atol=1e-7)
    far = evaluate_columns(expressions, {"x": np.array([0.5])}, 1)
    assert np.isnan(far[0, 2]) and np.isfinite(far[0, :2]).all()  # sqrt(-0.5) stays NaN
    assert np.isnan(evaluate_columns([sympy.acos(x)], {"x": np.array([1.5])}, 1)).all()


def test_complex_values_are_nan() -> None:
    x = sympy.Symbol("x")
    values = evaluate_columns([sympy.sqrt(x) * sympy.I + 1], {"x": np.array([0.0, 4.0])}, 2)
    assert values[0, 0] == 1.0 and np.isnan(values[1, 0])
