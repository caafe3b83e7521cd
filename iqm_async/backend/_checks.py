"""Input checks of :class:`~iqm_async.backend.IQMBackend` that need no I/O (private module).

Each check raises an :mod:`iqm_async.errors` exception whose message says what is wrong with
which circuit and what to do, in the words of the problem (a symbolic angle, a gate the
device does not run) rather than the name of the pytket predicate that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

from pytket.architecture import Architecture
from pytket.backends.backend_exceptions import CircuitNotValidError
from pytket.circuit import Circuit, OpType
from pytket.predicates import (
    ConnectivityPredicate,
    GateSetPredicate,
    NoClassicalControlPredicate,
    NoFastFeedforwardPredicate,
    NoMidMeasurePredicate,
    NoSymbolsPredicate,
    Predicate,
)

from ..errors import CircuitValidationError, ConfigurationError

__all__ = ["InvalidCircuitError", "check_circuit", "check_width", "shots_per_circuit"]


class InvalidCircuitError(CircuitValidationError, CircuitNotValidError):
    """A circuit the device cannot run as given: both our :class:`CircuitValidationError`
    and pytket's ``CircuitNotValidError``, which code written for pytket backends catches."""

    def __init__(self, message: str) -> None:
        CircuitValidationError.__init__(self, message)


_COMPILE = "Compile it with backend.get_compiled_circuit(circuit) first."
_SHOTS_FORMS = "give one int >= 1 for all circuits, or a list with one per circuit"


def shots_per_circuit(n_shots: object, count: int) -> list[int]:
    """The shot count of each of ``count`` circuits from ``process_circuits``' ``n_shots``.

    Args:
        n_shots: an int for all circuits, or a sequence with one int per circuit.
        count: how many circuits there are.

    Raises:
        ConfigurationError: ``n_shots`` missing, not an int (bools, floats and strings are
            refused), below 1, or a sequence of the wrong length.
    """
    per_circuit = isinstance(n_shots, Sequence) and not isinstance(n_shots, str | bytes)
    values: list[object] = list(n_shots) if per_circuit else [n_shots] * count  # type: ignore[call-overload]
    if per_circuit and len(values) != count:
        raise ConfigurationError(
            f"n_shots has {len(values)} entries for {count} circuits; {_SHOTS_FORMS}."
        )
    shots: list[int] = []
    for index, value in enumerate(values):
        which = f" for circuit {index}" if per_circuit else ""
        if value is None:
            raise ConfigurationError(
                f"Parameter n_shots is required{which or ' for this backend'}: {_SHOTS_FORMS}."
            )
        if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 1:
            raise ConfigurationError(
                f"n_shots must be an int >= 1{which}, got {value!r}; {_SHOTS_FORMS}."
            )
        shots.append(int(value))
    return shots


def _foreign_qubits(circuit: Circuit, architecture: Architecture) -> list[str]:
    nodes = set(architecture.nodes)
    return [str(q) for q in circuit.qubits if q not in nodes]


def _problem(predicate: Predicate, circuit: Circuit, architecture: Architecture) -> str:
    """What a failed predicate means for this circuit, and the fix."""
    if isinstance(predicate, NoSymbolsPredicate):
        names = ", ".join(sorted(str(s) for s in circuit.free_symbols()))
        return (
            f"it has symbolic parameters ({names}); substitute values with "
            "circuit.symbol_substitution({symbol: value}) first."
        )
    if isinstance(predicate, NoClassicalControlPredicate | NoFastFeedforwardPredicate):
        return (
            "it has classically controlled operations, which IQM devices do not run; remove "
            "the conditions (or post-process the results instead)."
        )
    if isinstance(predicate, NoMidMeasurePredicate):
        return (
            "it measures a qubit and then acts on it again (mid-circuit measurement), which IQM "
            "devices do not support; measure each qubit once, at the end."
        )
    if isinstance(predicate, GateSetPredicate):
        allowed = predicate.gate_set
        used = sorted({c.op.type.name for c in circuit.get_commands() if c.op.type not in allowed})
        native = ", ".join(sorted(t.name for t in allowed))
        return (
            f"it uses gates the device does not run ({', '.join(used)}; it runs {native}). "
            + _COMPILE
        )
    if isinstance(predicate, ConnectivityPredicate):
        foreign = _foreign_qubits(circuit, architecture)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            return (
                f"it acts on qubits that are not qubits of the device ({shown}; its "
                f"{len(architecture.nodes)} qubits are named node[i]). {_COMPILE}"
            )
        return f"it applies a two-qubit gate to qubits the device does not couple. {_COMPILE}"
    return _COMPILE  # pragma: no cover  (required_predicates has no other kind)


def check_circuit(
    index: int, circuit: Circuit, predicates: Sequence[Predicate], architecture: Architecture
) -> None:
    """Refuse a circuit the device cannot run as given (no I/O).

    Raises:
        InvalidCircuitError: naming the circuit (index and name), the problem and the fix:
            an empty circuit, a failed predicate (see :func:`~iqm_async.compiler.
            required_predicates`), or a circuit that measures nothing.
    """
    label = f"Circuit {index} ({circuit.name or 'unnamed'})"
    if circuit.n_gates == 0:
        raise InvalidCircuitError(
            f"{label} is empty; add gates and measurements before submitting it."
        )
    for predicate in predicates:
        if not predicate.verify(circuit):
            raise InvalidCircuitError(
                f"{label} fails {type(predicate).__name__}: "
                + _problem(predicate, circuit, architecture)
            )
    if not circuit.n_gates_of_type(OpType.Measure):
        raise InvalidCircuitError(
            f"{label} measures nothing, so it would return no results; add measurements "
            "(circuit.measure_all())."
        )


def check_width(index: int, circuit: Circuit, architecture: Architecture) -> None:
    """Refuse to compile a circuit with more qubits than the device has (no I/O); pytket's
    placement would fail with a bare ``RuntimeError``.

    Raises:
        InvalidCircuitError: naming the circuit and both qubit counts.
    """
    width, available = circuit.n_qubits, len(architecture.nodes)
    if width > available:
        raise InvalidCircuitError(
            f"Circuit {index} ({circuit.name or 'unnamed'}) has {width} qubits; the device has "
            f"{available}. Use a smaller circuit or a bigger device."
        )
