"""pytket circuit -> IQM wire circuit, and the measurement layout (private module).

Qubits are sent under their physical names (``node[i]`` -> ``QB{i+1}``), so a translated
circuit needs no qubit mapping. Each classical bit gets its own single-qubit ``measure`` whose
key is the bit's name (``"c[0]"``); the layout records which bit each key fills, so results
decode correctly whatever order the server returns the keys in.
"""

from __future__ import annotations

from typing import Any

from pytket.circuit import Bit, Circuit, Command, OpType

from .errors import CircuitValidationError
from .metadata import node_to_qubit_name
from .models import Circuit as IQMCircuit
from .models import Instruction

MeasurementLayout = dict[str, Any]
"""JSON-able: ``{"bits": [[register, [index, ...]], ...], "keys": {key: column}}``.

``bits`` lists every classical bit of the circuit in pytket's order (the result's ``c_bits``);
``keys`` gives, for each measurement key, the position in ``bits`` that its shots fill.
"""

_FIX_REBASE = "apply rebase_pass() or default_compilation_pass() first"


def _bad_command(index: int, command: Command, why: str, fix: str) -> CircuitValidationError:
    return CircuitValidationError(f"Command {index} ({command}) {why}; {fix}.")


def _half_turns(index: int, command: Command) -> tuple[float, float]:
    params = command.op.params
    try:
        return float(params[0]), float(params[1])
    except (TypeError, ValueError, RuntimeError):
        raise _bad_command(
            index,
            command,
            "has a symbolic angle",
            "substitute values with circuit.symbol_substitution() first",
        ) from None


def _instruction(index: int, command: Command, measured: set[Bit]) -> Instruction | None:
    """The IQM instruction for one pytket command (None for a barrier on bits only).

    Built with ``model_construct``: the translator makes only well-formed instructions (the
    tests validate its output), and pydantic's checks were most of the translation time.
    """
    optype = command.op.type
    qubits = tuple(node_to_qubit_name(q) for q in command.qubits)
    if optype == OpType.PhasedX:
        angle, phase = _half_turns(index, command)
        # pytket angles are in half-turns, IQM's angle_t/phase_t in full turns.
        return Instruction.model_construct(
            name="prx", qubits=qubits, args={"angle_t": angle / 2, "phase_t": phase / 2}
        )
    if optype == OpType.CZ:
        return Instruction.model_construct(name="cz", qubits=qubits, args={})
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
        return Instruction.model_construct(name="measure", qubits=qubits, args={"key": str(bit)})
    if optype == OpType.Barrier:
        return (
            Instruction.model_construct(name="barrier", qubits=qubits, args={}) if qubits else None
        )
    if optype == OpType.Conditional:
        raise _bad_command(
            index, command, "is classically controlled", "IQM devices run no classical control"
        )
    raise _bad_command(
        index, command, f"uses {optype.name}, which is not an IQM native gate", _FIX_REBASE
    )


def to_iqm_circuit(circuit: Circuit, name: str | None = None) -> IQMCircuit:
    """Translate a compiled pytket circuit to the IQM wire format.

    PhasedX(a, b) becomes ``prx`` with ``angle_t = a/2`` and ``phase_t = b/2`` (half-turns to
    full turns), CZ ``cz``, Measure ``measure`` with the bit's name as key, Barrier
    ``barrier``. Qubits must be device nodes ``node[i]``; they become ``QB{i+1}``.

    Args:
        circuit: a circuit in :func:`gate_set` on device nodes (not changed).
        name: the circuit's name on the server; default ``circuit.name`` or ``"circuit"``.

    Raises:
        CircuitValidationError: naming the first command outside the gate set (or on a qubit
            that is not a device node) and the pass that fixes it.
    """
    return translate(circuit, name)[0]


def measurement_layout(circuit: Circuit) -> MeasurementLayout:
    """Where each measurement key's shots go: the layout :func:`to_backend_result` needs.

    JSON-able, so it can be stored in a persistent result handle. Every classical bit of the
    circuit gets a column, including bits no measurement writes (they read 0).
    """
    return _layout(circuit, circuit.get_commands())


def translate(circuit: Circuit, name: str | None = None) -> tuple[IQMCircuit, MeasurementLayout]:
    """:func:`to_iqm_circuit` and :func:`measurement_layout` together, from one walk over the
    circuit's commands (reading them from pytket is much of the cost). Same errors.
    """
    commands = circuit.get_commands()
    measured: set[Bit] = set()
    instructions = []
    for index, command in enumerate(commands):
        instruction = _instruction(index, command, measured)
        if instruction is not None:
            instructions.append(instruction)
    if not instructions:
        raise CircuitValidationError(
            "The circuit has no operations; add gates and measurements before submitting it."
        )
    # Built without re-validation: every instruction is well formed (see _instruction), the
    # name is not empty, and keys are unique because each bit is measured once and bit
    # names are unique.
    wire = IQMCircuit.model_construct(
        name=name or circuit.name or "circuit", instructions=tuple(instructions), metadata=None
    )
    return wire, _layout(circuit, commands)


def _layout(circuit: Circuit, commands: list[Command]) -> MeasurementLayout:
    bits = list(circuit.bits)
    column = {bit: i for i, bit in enumerate(bits)}
    keys = {
        str(command.bits[0]): column[command.bits[0]]
        for command in commands
        if command.op.type == OpType.Measure
    }
    return {"bits": [[bit.reg_name, list(bit.index)] for bit in bits], "keys": keys}
