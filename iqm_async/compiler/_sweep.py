"""One compiled symbolic circuit, many bindings of its symbols (private module).

A parameter sweep runs one circuit for many values of its symbols. Compiling (seconds for 20
qubits at level 2) and translating (a walk over pytket's commands) are done once, on the
symbolic circuit; each binding then only evaluates the angle expressions, all points at once
with numpy (:mod:`._expressions`), and writes the wire JSON from a template. No pytket pass
runs per point.

Compiling with symbols is exact for every binding: pytket's passes leave a symbolic rotation
symbolic (or rewrite it into an expression of its symbols) and never use its value. The tests
check that compiling then substituting acts as substituting then compiling, up to global phase
and placement, for random and special values. What compiling may do is remove a symbol: a Z
rotation just before a measurement changes no result and is dropped, with its symbol.

Binding values are in half-turns, as in ``Circuit.symbol_substitution``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from numbers import Real
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import sympy
from pytket.circuit import Bit, Circuit, Command, OpType

from ..errors import CircuitValidationError, ConfigurationError
from ..metadata import node_to_qubit_name
from ._expressions import evaluate_columns
from ._passes import prepare_circuit
from ._translate import (
    CircuitJSON,
    MeasurementLayout,
    Rewrite,
    instruction_json,
    json_string,
    layout_of,
    native_op,
    no_operations,
    translate_json,
)

__all__ = [
    "CircuitSweep",
    "Translated",
    "check_bindings",
    "check_sweep",
    "translate_for_run",
    "translate_sweep",
]

Binding = Mapping[Any, Any]
"""One point of a sweep: symbol (a sympy ``Symbol`` or its name) -> value in half-turns."""


def _symbol_name(key: object, index: int) -> str:
    if isinstance(key, sympy.Symbol):
        return str(key.name)
    if isinstance(key, str):
        return key
    raise ConfigurationError(
        f"symbol_bindings[{index}] has the key {key!r} ({type(key).__name__}); keys must be "
        "sympy Symbols or their names (str)."
    )


def _value(value: object, index: int, name: str) -> float:
    # bool is an int to Python but never an angle; strings are never parsed.
    number: float | None = None
    if isinstance(value, Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):  # e.g. sympy's nan, which is Real but has no float
            number = None
    if number is None:
        raise ConfigurationError(
            f"symbol_bindings[{index}] gives symbol '{name}' the value {value!r} "
            f"({type(value).__name__}); give a real number (in half-turns)."
        )
    if not math.isfinite(number):
        raise ConfigurationError(
            f"symbol_bindings[{index}] gives symbol '{name}' the value {number}; give a "
            "finite number (in half-turns)."
        )
    return number


def check_bindings(
    symbols: Sequence[str], bindings: Sequence[Binding], *, what: str = "the circuit"
) -> npt.NDArray[np.float64]:
    """Each binding's value of each symbol, as a ``points x symbols`` array (no I/O).

    Args:
        symbols: the names of the circuit's free symbols, in the order of the columns.
        bindings: one mapping per point, symbol (sympy ``Symbol`` or name) -> real number.
        what: how to name the circuit in error messages.

    Raises:
        ConfigurationError: naming the point and the symbol: no bindings at all, a binding
            that is not a mapping, a symbol missing, a symbol the circuit does not have, a key
            that is neither a Symbol nor a str, a value that is not a real number (bools and
            strings included) or not finite.
    """
    check_bindings_shape(bindings)
    column = {name: i for i, name in enumerate(symbols)}
    values = np.empty((len(bindings), len(symbols)), dtype=np.float64)
    known = ", ".join(f"'{s}'" for s in symbols) or "none"
    for index, binding in enumerate(bindings):
        seen: set[str] = set()
        for key, value in binding.items():
            name = _symbol_name(key, index)
            if name not in column:
                raise ConfigurationError(
                    f"symbol_bindings[{index}] gives symbol '{name}', which {what} does not "
                    f"have (its symbols: {known}). Check the spelling; compiling removes a "
                    "symbol whose rotation cannot change the results (e.g. a Z rotation just "
                    "before a measurement): leave such a symbol out."
                )
            if name in seen:
                raise ConfigurationError(
                    f"symbol_bindings[{index}] gives symbol '{name}' twice (as a Symbol and "
                    "as a name); give it once."
                )
            seen.add(name)
            values[index, column[name]] = _value(value, index, name)
        missing = [s for s in symbols if s not in seen]
        if missing:
            names = ", ".join(f"'{s}'" for s in missing)
            raise ConfigurationError(
                f"symbol_bindings[{index}] gives no value for symbol {names} of {what}; "
                "every point must bind every symbol."
            )
    return values


# A hole in the template: the expression of one PhasedX parameter (half-turns) and its
# period in half-turns (4 for the angle, 2 for the phase: PhasedX is unchanged, not even by
# a global phase, when a parameter moves by its period).
_Hole = tuple[sympy.Expr, float]


class CircuitSweep:
    """A compiled circuit translated once to a wire-JSON template with holes for its
    symbolic angles; :meth:`translate_json` fills them for many bindings at once.

    Args:
        circuit: a compiled circuit (native gates on device nodes), with or without free
            symbols; it is not changed and not kept.

    Attributes:
        symbols: the names of the circuit's free symbols, sorted.
        layout: the measurement layout of every point (see :func:`measurement_layout`).
        qubits, measured: as :class:`CircuitJSON` (the same for every point).

    Raises:
        CircuitValidationError: as :func:`translate_json` (a gate outside the native set, a
            classical condition, a bit measured twice, no operations).
    """

    def __init__(self, circuit: Circuit) -> None:
        commands = circuit.get_commands()
        self.symbols: tuple[str, ...] = symbols_of(circuit)
        self.layout: MeasurementLayout = layout_of(circuit, commands)
        self._default_name = circuit.name or "circuit"
        holes: list[_Hole] = []
        # The template is a %-format string: "%s" for the name, "%r" for each hole. Static
        # text has its "%" doubled (a measurement key may contain one).
        pieces: list[str] = []
        used: dict[str, None] = {}
        measured: set[str] = set()
        measured_bits: set[Bit] = set()
        for index, command in enumerate(commands):
            op = self._symbolic_prx(command, holes)
            if op is None:
                op = native_op(index, command, measured_bits)
                if op is None:
                    continue
            name, qubits, args = op
            used.update(dict.fromkeys(qubits))
            if name == "measure":
                measured.update(qubits)
            if name == "prx" and args is _HOLES:
                text = instruction_json(name, qubits, {"angle_t": _MARK, "phase_t": _MARK})
                pieces.append(text.replace("%", "%%").replace(repr(_MARK), "%r"))
            else:
                pieces.append(instruction_json(name, qubits, args).replace("%", "%%"))
        if not pieces:
            raise no_operations()
        self.qubits: tuple[str, ...] = tuple(used)
        self.measured: tuple[str, ...] = tuple(sorted(measured))
        self._template = '{"name":%s,"instructions":[' + ",".join(pieces) + "]}"
        self._periods = np.array([period for _, period in holes], dtype=np.float64)
        self._expressions = [expr for expr, _ in holes]

    @staticmethod
    def _symbolic_prx(command: Command, holes: list[_Hole]) -> Any:
        """A symbolic PhasedX as a template op (its holes appended), else None."""
        if command.op.type != OpType.PhasedX:
            return None
        # op.free_symbols() asks pytket; reading params converts every one to sympy.
        if not command.op.free_symbols():
            return None
        params = command.op.params
        holes.append((sympy.sympify(params[0]), 4.0))
        holes.append((sympy.sympify(params[1]), 2.0))
        return "prx", tuple(node_to_qubit_name(q) for q in command.qubits), _HOLES

    def angles(
        self, bindings: Sequence[Binding], what: str = "the circuit"
    ) -> npt.NDArray[np.float64]:
        """Every hole's value in full turns for every binding: ``points x holes``.

        Raises:
            ConfigurationError: a bad binding (see :func:`check_bindings`).
            CircuitValidationError: an angle expression is not finite for some binding
                (e.g. a division by a symbol that is 0 there).
        """
        values = check_bindings(self.symbols, bindings, what=what)
        columns = {name: values[:, i] for i, name in enumerate(self.symbols)}
        half_turns = evaluate_columns(self._expressions, columns, len(bindings))
        bad = ~np.isfinite(half_turns)
        if bad.any():
            point = int(np.argwhere(bad)[0][0])
            raise CircuitValidationError(
                f"For symbol_bindings[{point}] an angle of {what} is not a finite number; "
                "check the values of its symbols (e.g. a division by a symbol that is 0)."
            )
        # Reduced into one period (as pytket reduces numeric angles), half-turns -> turns.
        turns: npt.NDArray[np.float64] = np.mod(half_turns, self._periods) / 2.0
        return turns

    def translate_json(
        self, bindings: Sequence[Binding], name: str | None = None, what: str = "the circuit"
    ) -> list[CircuitJSON]:
        """The wire circuit of every binding, in order.

        Args:
            bindings: one mapping per point, symbol (sympy ``Symbol`` or name) -> value in
                half-turns; each must bind exactly the circuit's symbols.
            name: point ``k`` is named ``"<name>_<k>"`` on the server; default the
                circuit's name (or ``"circuit"``).
            what: how error messages name the circuit.

        Raises:
            ConfigurationError: a bad binding (naming the point and the symbol).
            CircuitValidationError: an angle that is not finite for some binding.
        """
        turns = self.angles(bindings, what)
        base = name or self._default_name
        template = self._template
        return [
            CircuitJSON(template % (json_string(f"{base}_{k}"), *row), self.qubits, self.measured)
            for k, row in enumerate(turns.tolist())
        ]


# Stand-ins while the template is built: _HOLES marks a symbolic PhasedX's args, _MARK the
# place of one angle in its JSON (a float whose repr occurs nowhere else in that text).
_HOLES: dict[str, Any] = {}
_MARK = 0.123456789012345


def translate_sweep(
    circuit: Circuit, bindings: Sequence[Binding], name: str | None = None
) -> tuple[list[CircuitJSON], MeasurementLayout]:
    """A compiled symbolic circuit's wire JSON for each binding, and its one layout.

    The same as substituting each binding with ``Circuit.symbol_substitution`` and calling
    :func:`translate_json`, without a pytket call per point.

    Args:
        circuit: a compiled circuit (e.g. from :func:`compile_circuits`, which keeps symbols).
        bindings: one mapping per point: each of the circuit's symbols (a sympy ``Symbol`` or
            its name) -> a real value in half-turns.
        name: the base of the points' names (``"<name>_<point>"``); default the circuit's.

    Raises:
        ConfigurationError: a binding misses a symbol, names one the circuit does not have,
            or gives a value that is not a finite real number (the message names the point
            and the symbol).
        CircuitValidationError: as :func:`translate_json`.
    """
    sweep = CircuitSweep(circuit)
    return sweep.translate_json(bindings, name), sweep.layout


class Translated(NamedTuple):
    """One circuit (or one point of a sweep) ready to submit.

    Attributes:
        source: the index of the circuit it came from.
        wire: its wire JSON and qubits.
        layout: its measurement layout.
        ppcirc: the post-processing circuit of ``postprocess``, or None.
    """

    source: int
    wire: CircuitJSON
    layout: MeasurementLayout
    ppcirc: Circuit | None


def check_sweep(circuits: Sequence[Circuit], symbol_bindings: Sequence[Binding] | None) -> int:
    """Check every circuit's bindings before anything is translated or sent; return how
    many circuits each input circuit becomes (1 without bindings, else one per binding).

    Raises:
        ConfigurationError: as :func:`check_bindings`, naming the circuit.
    """
    if symbol_bindings is None:
        return 1
    check_bindings_shape(symbol_bindings)
    for index, circuit in enumerate(circuits):
        check_bindings(symbols_of(circuit), symbol_bindings, what=_label(index, circuit))
    return len(symbol_bindings)


def symbols_of(circuit: Circuit) -> tuple[str, ...]:
    """The names of a circuit's free symbols, sorted."""
    return tuple(sorted(s.name for s in circuit.free_symbols()))


def _label(index: int, circuit: Circuit) -> str:
    return f"circuit {index} ('{circuit.name or f'circuit_{index}'}')"


def check_bindings_shape(bindings: object) -> None:
    """Refuse ``symbol_bindings`` that is not a non-empty sequence of mappings."""
    if isinstance(bindings, Mapping | str | bytes) or not isinstance(bindings, Sequence):
        raise ConfigurationError(
            f"symbol_bindings must be a list of mappings (one per point), got "
            f"{type(bindings).__name__}; for one point, give [{{symbol: value}}]."
        )
    if not bindings:
        raise ConfigurationError(
            "symbol_bindings is empty; give at least one mapping {symbol: value}."
        )
    for index, binding in enumerate(bindings):
        if not isinstance(binding, Mapping):
            raise ConfigurationError(
                f"symbol_bindings[{index}] is a {type(binding).__name__}, not a mapping; give "
                "{symbol: value} for each point."
            )


def translate_for_run(
    circuits: Sequence[Circuit],
    *,
    postprocess: bool = False,
    simplify_initial: bool = False,
    symbol_bindings: Sequence[Binding] | None = None,
    rewrite: Rewrite | None = None,
) -> Iterator[Translated]:
    """Prepare and translate compiled circuits for submission, lazily, in order.

    Without ``symbol_bindings`` each circuit gives one :class:`Translated`, named
    ``circuit.name`` (or ``circuit_<i>``). With them, each circuit gives one per binding, in
    binding order, named ``<name>_<point>``: translated once (:class:`CircuitSweep`), or,
    with ``postprocess`` or ``simplify_initial`` (pytket passes that need numbers),
    substituted and prepared point by point. ``rewrite`` is :func:`translate_json`'s (a star
    chip's MOVE insertion); with it, sweeps are substituted point by point too.

    Raises (when the failing circuit is reached):
        ConfigurationError: a bad binding (naming the circuit, the point and the symbol).
        CircuitValidationError: as :func:`translate_json`.
    """
    prepare = postprocess or simplify_initial
    for index, circuit in enumerate(circuits):
        base = circuit.name or f"circuit_{index}"
        if symbol_bindings is None:
            prepared, ppcirc = (
                prepare_circuit(circuit, postprocess, simplify_initial)
                if prepare
                else (circuit, None)  # translation never changes the circuit: no copy
            )
            wire, layout = translate_json(prepared, name=base, rewrite=rewrite)
            yield Translated(index, wire, layout, ppcirc)
        elif not prepare and rewrite is None:
            sweep = CircuitSweep(circuit)
            for wire in sweep.translate_json(symbol_bindings, base, _label(index, circuit)):
                yield Translated(index, wire, sweep.layout, None)
        else:
            symbols = symbols_of(circuit)
            values = check_bindings(symbols, symbol_bindings, what=_label(index, circuit))
            for point, row in enumerate(values.tolist()):
                bound = circuit.copy()
                bound.symbol_substitution(dict(zip(map(sympy.Symbol, symbols), row, strict=True)))
                prepared, ppcirc = (
                    prepare_circuit(bound, postprocess, simplify_initial)
                    if prepare
                    else (bound, None)
                )
                wire, layout = translate_json(prepared, name=f"{base}_{point}", rewrite=rewrite)
                yield Translated(index, wire, layout, ppcirc)
