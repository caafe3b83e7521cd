"""pytket circuit -> IQM wire circuit, and the measurement layout (private module).

Qubits are sent under their physical names (``node[i]`` -> ``QB{i+1}``), so a translated
circuit needs no qubit mapping. Each classical bit gets its own single-qubit ``measure`` whose
key is the bit's name (``"c[0]"``); the layout records which bit each key fills, so results
decode correctly whatever order the server returns the keys in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytket.circuit import Bit, Circuit, Command, OpType

from ..errors import CircuitValidationError
from ..metadata import node_to_qubit_name
from ..models import Circuit as IQMCircuit
from ..models import Instruction

MeasurementLayout = dict[str, Any]
"""JSON-able: ``{"bits": [[register, [index, ...]], ...], "keys": {key: column}}``.

``bits`` lists every classical bit of the circuit in pytket's order (the result's ``c_bits``);
``keys`` gives, for each measurement key, the position in ``bits`` that its shots fill.
"""

_FIX_REBASE = "apply rebase_pass() or default_compilation_pass() first"
json_string = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _bad_command(index: int, command: Command, why: str, fix: str) -> CircuitValidationError:
    return CircuitValidationError(f"Command {index} ({command}) {why}; {fix}.")


def _half_turns(index: int, command: Command) -> tuple[float, float]:
    params = command.op.params
    try:
        angle, phase = float(params[0]), float(params[1])
    except (TypeError, ValueError, RuntimeError):
        raise _bad_command(
            index,
            command,
            "has a symbolic angle",
            "substitute values with circuit.symbol_substitution() first",
        ) from None
    if not (math.isfinite(angle) and math.isfinite(phase)):
        # JSON has no NaN: it would go out as null or fail on the server's side.
        raise _bad_command(
            index, command, "has an angle that is not a finite number", "give finite angles"
        )
    return angle, phase


# One native operation: (name, qubits, args), the wire instruction's fields.
NativeOp = tuple[str, tuple[str, ...], dict[str, Any]]
Rewrite = Callable[[list[NativeOp]], list[NativeOp]]
"""A last step on the native operations before they are written (e.g. MOVE insertion for a
star chip: :func:`iqm_async.compiler.insert_moves`)."""


_QUBIT_NAMES: dict[Any, str] = {}
"""``node[i]`` -> ``QB<i+1>``, remembered: a chip has few nodes, and naming one (reading its
register and index from pytket) was a tenth of the translation time."""


def _qubit_name(node: Any) -> str:
    name = _QUBIT_NAMES.get(node)
    if name is None:
        name = node_to_qubit_name(node)  # raises for qubits that are not device nodes
        if len(_QUBIT_NAMES) < 4096:
            _QUBIT_NAMES[node] = name
    return name


def native_op(index: int, command: Command, measured: set[Bit]) -> NativeOp | None:
    """The IQM operation for one pytket command (None for a barrier on bits only)."""
    optype = command.op.type
    qubits = tuple(_qubit_name(q) for q in command.qubits)
    if optype == OpType.PhasedX:
        angle, phase = _half_turns(index, command)
        # pytket angles are in half-turns, IQM's angle_t/phase_t in full turns.
        return "prx", qubits, {"angle_t": angle / 2, "phase_t": phase / 2}
    if optype == OpType.CZ:
        return "cz", qubits, {}
    if optype == OpType.Measure:
        bit = command.bits[0]
        if bit in measured:
            raise _bad_command(
                index,
                command,
                f"writes bit {bit} a second time",
                "measure each classical bit once, at the end (DelayMeasures)",
            )
        measured.add(bit)
        return "measure", qubits, {"key": str(bit)}
    if optype == OpType.Barrier:
        return ("barrier", qubits, {}) if qubits else None
    if optype == OpType.Conditional:
        raise _bad_command(
            index, command, "is classically controlled", "IQM devices run no classical control"
        )
    raise _bad_command(
        index, command, f"uses {optype.name}, which is not an IQM native gate", _FIX_REBASE
    )


def _native_ops(commands: list[Command], rewrite: Rewrite | None = None) -> list[NativeOp]:
    """Every command as an IQM operation; the checks of :func:`to_iqm_circuit`."""
    measured: set[Bit] = set()
    ops = [op for i, command in enumerate(commands) if (op := native_op(i, command, measured))]
    if not ops:
        raise no_operations()
    return ops if rewrite is None else rewrite(ops)


def no_operations() -> CircuitValidationError:
    """The error for a circuit with nothing to run."""
    return CircuitValidationError(
        "The circuit has no operations; add gates and measurements before submitting it."
    )


def to_iqm_circuit(
    circuit: Circuit, name: str | None = None, *, rewrite: Rewrite | None = None
) -> IQMCircuit:
    """Translate a compiled pytket circuit to the IQM wire format.

    PhasedX(a, b) becomes ``prx`` with ``angle_t = a/2`` and ``phase_t = b/2`` (half-turns to
    full turns), CZ ``cz``, Measure ``measure`` with the bit's name as key, Barrier
    ``barrier``. Qubits must be device nodes ``node[i]``; they become ``QB{i+1}``.

    Args:
        circuit: a circuit in :func:`gate_set` on device nodes (not changed).
        name: the circuit's name on the server; default ``circuit.name`` or ``"circuit"``.
        rewrite: applied to the native operations last (default: none); a star chip's
            MOVE insertion (``functools.partial(insert_moves, star=...)``).

    Raises:
        CircuitValidationError: naming the first command outside the gate set (or on a qubit
            that is not a device node) and the pass that fixes it.
    """
    return _wire_model(circuit, circuit.get_commands(), name, rewrite)


def measurement_layout(circuit: Circuit) -> MeasurementLayout:
    """Where each measurement key's shots go: the layout :func:`to_backend_result` needs.

    JSON-able, so it can be stored in a persistent result handle. Every classical bit of the
    circuit gets a column, including bits no measurement writes (they read 0).
    """
    return layout_of(circuit, circuit.get_commands())


def translate(
    circuit: Circuit, name: str | None = None, *, rewrite: Rewrite | None = None
) -> tuple[IQMCircuit, MeasurementLayout]:
    """:func:`to_iqm_circuit` and :func:`measurement_layout` together, from one walk over the
    circuit's commands (reading them from pytket is much of the cost). Same errors.
    """
    commands = circuit.get_commands()
    return _wire_model(circuit, commands, name, rewrite), layout_of(circuit, commands)


def _wire_model(
    circuit: Circuit, commands: list[Command], name: str | None, rewrite: Rewrite | None = None
) -> IQMCircuit:
    # Built with model_construct, without re-validation: every operation is well formed
    # (see native_op; the tests validate the output), the name is not empty, and keys are
    # unique because each bit is measured once and bit names are unique. Pydantic's checks
    # were most of the translation time.
    instructions = tuple(
        Instruction.model_construct(name=op_name, qubits=qubits, args=args)
        for op_name, qubits, args in _native_ops(commands, rewrite)
    )
    return IQMCircuit.model_construct(
        name=name or circuit.name or "circuit", instructions=instructions, metadata=None
    )


@dataclass(frozen=True)
class CircuitJSON:
    """A translated circuit as wire JSON, with what a submitter needs to know about it.

    Attributes:
        json: the circuit's wire JSON (``{"name", "instructions"}``), as
            ``to_iqm_circuit(...).to_wire_json()`` would write it (up to spacing).
        qubits: the qubits it uses, in order of first use.
        measured: the qubits it measures, sorted (circuits of one job must measure the same).
    """

    json: str
    qubits: tuple[str, ...]
    measured: tuple[str, ...]


def translate_json(
    circuit: Circuit, name: str | None = None, *, rewrite: Rewrite | None = None
) -> tuple[CircuitJSON, MeasurementLayout]:
    """:func:`translate`, with the circuit written straight to wire JSON (no models: about
    half the time, and nothing left for the garbage collector). Same errors.

    Raises:
        CircuitValidationError: as :func:`to_iqm_circuit`, and for an angle that is not a
            finite number.
    """
    commands = circuit.get_commands()
    ops = _native_ops(commands, rewrite)
    parts = []
    for op_name, qubits, args in ops:
        if op_name == "prx":
            angle, phase = args["angle_t"], args["phase_t"]
            if not (math.isfinite(angle) and math.isfinite(phase)):
                raise CircuitValidationError(
                    f"A PhasedX on {list(qubits)} has an angle that is not a finite number "
                    f"({args}); give finite angles."
                )
        parts.append(instruction_json(op_name, qubits, args, escape=rewrite is not None))
    title = json_string(name or circuit.name or "circuit")
    text = f'{{"name":{title},"instructions":[{",".join(parts)}]}}'
    used = tuple(dict.fromkeys(q for _, qubits, _ in ops for q in qubits))
    measured = tuple(
        sorted({q for op_name, qubits, _ in ops if op_name == "measure" for q in qubits})
    )
    return CircuitJSON(text, used, measured), layout_of(circuit, commands)


def instruction_json(
    op_name: str, qubits: tuple[str, ...], args: dict[str, Any], *, escape: bool = False
) -> str:
    """One native operation as wire JSON; prx angles must be finite floats.

    Qubit names are QB<n> (node_to_qubit_name), so they need no escaping; ``escape`` when a
    rewrite may have added components named by the server (a star chip's resonator).
    """
    locus = json_string(list(qubits)) if escape else '["' + '","'.join(qubits) + '"]'
    if op_name == "prx":
        # repr of a finite float is valid JSON and round-trips exactly.
        arguments = f'{{"angle_t":{args["angle_t"]!r},"phase_t":{args["phase_t"]!r}}}'
    elif op_name == "measure":
        arguments = f'{{"key":{json_string(args["key"])}}}'
    else:
        arguments = "{}"
    return f'{{"name":"{op_name}","qubits":{locus},"args":{arguments}}}'


def layout_of(circuit: Circuit, commands: list[Command]) -> MeasurementLayout:
    """The measurement layout from the circuit's commands (see :func:`measurement_layout`)."""
    bits = list(circuit.bits)
    column = {bit: i for i, bit in enumerate(bits)}
    keys = {
        str(command.bits[0]): column[command.bits[0]]
        for command in commands
        if command.op.type == OpType.Measure
    }
    return {"bits": [[bit.reg_name, list(bit.index)] for bit in bits], "keys": keys}
