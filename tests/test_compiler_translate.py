"""pytket -> IQM translation, measurement layout and result decoding (bit order included)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pytket.circuit import Bit, Circuit, Node, OpType, Qubit
from sample_circuits import pytket_iqm_decode
from sympy import Symbol

from iqm_async.compiler import (
    measurement_layout,
    prepare_circuit,
    to_backend_result,
    to_iqm_circuit,
)
from iqm_async.emulator.simulator import simulate
from iqm_async.errors import CircuitValidationError, InvalidResponseError


def on_nodes(n_qubits: int, n_bits: int = 0) -> Circuit:
    """An empty circuit whose qubits are device nodes node[0..n-1]."""
    circuit = Circuit()
    for i in range(n_qubits):
        circuit.add_qubit(Node(i))
    for i in range(n_bits):
        circuit.add_bit(Bit(i))
    return circuit


def run(circuit: Circuit, shots: int = 50, seed: int = 0) -> dict[str, list[list[int]]]:
    return simulate(to_iqm_circuit(circuit), shots, np.random.default_rng(seed))


# --- translation ------------------------------------------------------------------------------


def test_native_gates_translate_with_full_turns_and_physical_names() -> None:
    circuit = on_nodes(3, 1)
    circuit.add_gate(OpType.PhasedX, [0.5, 1.5], [Node(2)])
    circuit.CZ(Node(0), Node(2)).add_barrier([Node(0), Node(2)]).Measure(Node(2), Bit(0))
    wire = to_iqm_circuit(circuit, name="mine").to_wire()
    assert wire == {
        "name": "mine",
        "instructions": [
            {"name": "prx", "qubits": ["QB3"], "args": {"angle_t": 0.25, "phase_t": 0.75}},
            {"name": "cz", "qubits": ["QB1", "QB3"], "args": {}},
            {"name": "barrier", "qubits": ["QB1", "QB3"], "args": {}},
            {"name": "measure", "qubits": ["QB3"], "args": {"key": "c[0]"}},
        ],
    }


def test_name_defaults_to_the_circuits_name() -> None:
    circuit = on_nodes(1).add_gate(OpType.PhasedX, [1, 0], [Node(0)])
    assert to_iqm_circuit(circuit).name == "circuit"
    circuit.name = "bell"
    assert to_iqm_circuit(circuit).name == "bell"


def test_barrier_on_bits_only_is_dropped() -> None:
    circuit = on_nodes(1, 1).add_gate(OpType.PhasedX, [1, 0], [Node(0)])
    circuit.add_barrier([Bit(0)])
    assert [i.name for i in to_iqm_circuit(circuit).instructions] == ["prx"]


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda c: c.H(Node(0)), r"Command 0 \(H node\[0\];\) uses H.*rebase_pass"),
        (
            lambda c: c.add_gate(OpType.PhasedX, [Symbol("a"), 0], [Node(0)]),
            "symbolic angle.*symbol_substitution",
        ),
        (
            lambda c: c.Measure(Node(0), Bit(0)).Measure(Node(1), Bit(0)),
            r"Command 1 .* writes bit c\[0\] a second time",
        ),
        (
            lambda c: c.add_gate(
                OpType.PhasedX, [1, 0], [Node(1)], condition_bits=[Bit(0)], condition_value=1
            ),
            "classically controlled",
        ),
        (lambda c: c, "no operations"),
    ],
)
def test_bad_circuits_are_refused_with_the_fix(build: Any, says: str) -> None:
    with pytest.raises(CircuitValidationError, match=says):
        to_iqm_circuit(build(on_nodes(2, 1)))


def test_uncompiled_qubits_are_refused() -> None:
    circuit = Circuit(1).add_gate(OpType.PhasedX, [1, 0], [0])
    with pytest.raises(CircuitValidationError, match="Compile the circuit"):
        to_iqm_circuit(circuit)


# --- layout and decoding ----------------------------------------------------------------------


def test_layout_is_json_and_lists_every_bit() -> None:
    circuit = on_nodes(2, 3).Measure(Node(0), Bit(2)).Measure(Node(1), Bit(0))
    layout = measurement_layout(circuit)
    assert json.loads(json.dumps(layout)) == layout
    assert layout == {"bits": [["c", [0]], ["c", [1]], ["c", [2]]], "keys": {"c[2]": 2, "c[0]": 0}}


def slow_x(circuit: Circuit, node: Node) -> Circuit:
    """X as three PhasedX(1, 0): the qubit's measure comes late in pytket's command order."""
    for _ in range(3):
        circuit.add_gate(OpType.PhasedX, [1, 0], [node])
    return circuit


def test_permuted_bits_decode_right_and_pytket_iqm_swaps_them() -> None:
    # node[0] is 1 and measured into c[0], but its measure comes last: the server returns
    # the keys in measure order c[1], c[2], c[0]. Every shot must read c = (1, 0, 0).
    circuit = slow_x(on_nodes(3, 3), Node(0))
    circuit.Measure(Node(0), Bit(0)).Measure(Node(1), Bit(2)).Measure(Node(2), Bit(1))
    measurements = run(circuit)
    assert list(measurements) == ["c[1]", "c[2]", "c[0]"]
    result = to_backend_result(measurements, measurement_layout(circuit))
    assert result.get_counts() == {(1, 0, 0): 50}
    assert result.get_counts([Bit(0)]) == {(1,): 50}
    assert pytket_iqm_decode(measurements).get_counts() == {(0, 0, 1): 50}  # pytket-iqm: wrong


def test_key_order_from_the_server_does_not_matter() -> None:
    # 12 bits: a server that sorts keys as strings puts c[10] and c[11] before c[2].
    circuit = on_nodes(12, 12)
    for q in (2, 10):
        circuit.add_gate(OpType.PhasedX, [1, 0], [Node(q)])
    for q in range(12):
        circuit.Measure(Node(q), Bit(q))
    measurements = run(circuit)
    layout = measurement_layout(circuit)
    expected = {tuple(int(q in (2, 10)) for q in range(12)): 50}
    for keys in (sorted(measurements), sorted(measurements, reverse=True), list(measurements)):
        reordered = {k: measurements[k] for k in keys}
        assert to_backend_result(reordered, layout).get_counts() == expected
    assert pytket_iqm_decode(dict(sorted(measurements.items()))).get_counts() != expected


def test_two_registers_decode_right_and_pytket_iqm_loses_them() -> None:
    circuit = slow_x(on_nodes(3), Node(0))
    a, b = circuit.add_c_register("a", 2), circuit.add_c_register("b", 1)
    circuit.Measure(Node(0), a[0]).Measure(Node(1), b[0]).Measure(Node(2), a[1])
    measurements = run(circuit)
    result = to_backend_result(measurements, measurement_layout(circuit))
    assert result.c_bits == {a[0]: 0, a[1]: 1, b[0]: 2}
    assert result.get_counts() == {(1, 0, 0): 50}
    assert result.get_counts([a[0]]) == {(1,): 50}
    theirs = pytket_iqm_decode(measurements)
    assert set(theirs.c_bits) == {Bit(0), Bit(1), Bit(2)}  # the register names are gone
    assert theirs.get_counts() == {(0, 0, 1): 50}  # and a[0]'s value lands last: wrong bit
    with pytest.raises(ValueError, match="not in result"):
        theirs.get_counts([a[0]])


def test_unmeasured_bits_read_zero_and_pytket_iqm_misplaces_the_rest() -> None:
    circuit = on_nodes(1, 3).add_gate(OpType.PhasedX, [1, 0], [Node(0)]).Measure(Node(0), Bit(2))
    measurements = run(circuit)
    result = to_backend_result(measurements, measurement_layout(circuit))
    assert result.get_counts() == {(0, 0, 1): 50}
    theirs = pytket_iqm_decode(measurements)
    assert theirs.get_counts() == {(1,): 50}  # one bit, labelled c[0] instead of c[2]
    assert theirs.get_counts([Bit(0)]) == {(1,): 50}


def test_numpy_measurements_and_zero_shots() -> None:
    circuit = on_nodes(2, 2).Measure(Node(0), Bit(0)).Measure(Node(1), Bit(1))
    layout = measurement_layout(circuit)
    arrays = {"c[0]": np.array([[1], [0]]), "c[1]": np.array([[1], [1]])}
    assert to_backend_result(arrays, layout).get_counts() == {(1, 1): 1, (0, 1): 1}
    empty = to_backend_result({"c[0]": [], "c[1]": []}, layout)
    assert empty.get_counts() == {}


@pytest.mark.parametrize(
    ("measurements", "says"),
    [
        ({"c[0]": [[1]]}, r"missing: \['c\[1\]'\]"),
        ({"c[0]": [[1]], "c[1]": [[0]], "x": [[0]]}, r"unexpected: \['x'\]"),
        ({"c[0]": [[1], [0]], "c[1]": [[0]]}, "different numbers of shots"),
        ({"c[0]": [[1, 0]], "c[1]": [[0, 0]]}, "not one bit each"),
        ({"c[0]": [[2]], "c[1]": [[0]]}, "other than 0 and 1"),
        ({"c[0]": [["x"]], "c[1]": [[0]]}, "not a list of shots"),
        ({"c[0]": np.zeros((1, 2)), "c[1]": [[0]]}, "2 bits per shot"),
    ],
)
def test_bad_measurements_raise(measurements: dict[str, Any], says: str) -> None:
    circuit = on_nodes(2, 2).Measure(Node(0), Bit(0)).Measure(Node(1), Bit(1))
    with pytest.raises(InvalidResponseError, match=says):
        to_backend_result(measurements, measurement_layout(circuit))


def test_ppcirc_is_applied() -> None:
    # |1> measured: contextual optimisation moves the final X into the classical ppcirc.
    circuit = on_nodes(1, 1).add_gate(OpType.PhasedX, [1, 0], [Node(0)]).Measure(Node(0), Bit(0))
    prepared, ppcirc = prepare_circuit(circuit, postprocess=True)
    assert ppcirc is not None
    measurements = simulate(to_iqm_circuit(prepared), 20, np.random.default_rng(1))
    layout = measurement_layout(prepared)
    assert to_backend_result(measurements, layout, ppcirc).get_counts() == {(1,): 20}
    as_dict = json.loads(json.dumps(ppcirc.to_dict()))
    assert to_backend_result(measurements, layout, as_dict).get_counts() == {(1,): 20}


def test_qubit_typed_as_qubit_node_register() -> None:
    # Qubit("node", i) is the same unit as Node(i): accepted.
    circuit = Circuit()
    circuit.add_qubit(Qubit("node", 4))
    circuit.add_gate(OpType.PhasedX, [1, 0], [Qubit("node", 4)])
    assert to_iqm_circuit(circuit).instructions[0].qubits == ("QB5",)


@pytest.mark.parametrize("seed", range(5))
def test_translated_circuits_pass_the_strict_wire_validation(seed: int) -> None:
    """The translator skips pydantic's checks for speed: its output must still pass them."""
    from sample_circuits import garnet
    from test_compiler_helpers import random_circuit

    from iqm_async.compiler import default_compilation_pass
    from iqm_async.models import Circuit as IQMCircuit

    circuit = random_circuit(5, 6, seed).measure_all()
    circuit.add_barrier(circuit.qubits)
    default_compilation_pass(garnet(), 1).apply(circuit)
    wire = to_iqm_circuit(circuit, name=f"random{seed}").to_wire()
    assert IQMCircuit.model_validate(wire).to_wire() == wire
    assert {i["name"] for i in wire["instructions"]} <= {"prx", "cz", "measure", "barrier"}


def test_translate_is_to_iqm_circuit_and_measurement_layout_in_one_walk() -> None:
    from iqm_async.compiler import translate

    circuit = Circuit(0, 3, name="t")
    for node in (Node(0), Node(1)):
        circuit.add_qubit(node)
    circuit.add_gate(OpType.PhasedX, [0.5, 0.25], [Node(0)])
    circuit.add_gate(OpType.CZ, [Node(0), Node(1)])
    circuit.Measure(Node(1), Bit(2)).Measure(Node(0), Bit(0))
    wire, layout = translate(circuit, name="n")
    assert wire == to_iqm_circuit(circuit, name="n")
    assert layout == measurement_layout(circuit)


def test_translate_json_writes_what_the_models_would() -> None:
    from iqm_async.compiler import translate, translate_json

    circuit = Circuit(0, 3, name='quote"d')
    for node in (Node(0), Node(1), Node(2)):
        circuit.add_qubit(node)
    circuit.add_gate(OpType.PhasedX, [0.5, 1e-7], [Node(2)])
    circuit.add_gate(OpType.CZ, [Node(2), Node(0)])
    circuit.add_barrier([Node(0), Node(1)])
    circuit.Measure(Node(0), Bit(2)).Measure(Node(2), Bit(0))
    wire, layout = translate(circuit)
    written, written_layout = translate_json(circuit)
    assert json.loads(written.json) == wire.to_wire()
    from iqm_async.models import Circuit as IQMCircuit

    validated = IQMCircuit.model_validate_json(written.json)  # the strict model accepts it
    assert validated.to_wire() == wire.to_wire()
    assert written_layout == layout
    assert written.qubits == ("QB3", "QB1", "QB2")  # order of first use
    assert written.measured == ("QB1", "QB3")


def test_translate_json_refuses_what_translate_refuses() -> None:
    from iqm_async.compiler import translate_json

    circuit = Circuit(2, 2).H(0).measure_all()
    with pytest.raises(CircuitValidationError, match="not a device node"):
        translate_json(circuit)
    empty = Circuit(0, 0)
    with pytest.raises(CircuitValidationError, match="has no operations"):
        translate_json(empty)


def test_translate_json_refuses_an_infinite_angle() -> None:
    from iqm_async.compiler import translate_json

    circuit = Circuit(0, 1)
    circuit.add_qubit(Node(0))
    circuit.add_gate(OpType.PhasedX, [float("inf"), 0.0], [Node(0)])
    circuit.Measure(Node(0), Bit(0))
    with pytest.raises(CircuitValidationError, match="not a finite number"):
        translate_json(circuit)
