"""What :class:`~iqm_async.backend.IQMBackend` does differently on a star chip (private module).

A star chip's qubits couple through a computational resonator, not to each other. To
pytket the backend shows them as one fully connected set (the pairs that can run a CZ through
the resonator, :func:`~iqm_async.compiler.star_architecture`), so compilation, predicates and
``backend_info`` work as for any chip; the MOVEs are put in when a compiled circuit is
translated (:func:`~iqm_async.compiler.insert_moves`). The resonator itself is never a pytket
qubit: a circuit that names it is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from pytket.architecture import Architecture
from pytket.circuit import Circuit

from .. import compiler
from ..compiler import StarDevice
from ..errors import CircuitValidationError, ConfigurationError
from ..metadata import qubit_name_to_node
from ..models import DynamicQuantumArchitecture
from ..quality import QualityMetrics

__all__ = ["check_no_resonator", "device_architecture", "star_misc", "star_rewrite"]


def device_architecture(
    dqa: DynamicQuantumArchitecture,
    couplings: Sequence[Sequence[str]] | None,
    metrics: QualityMetrics | None = None,
) -> tuple[Architecture, StarDevice | None]:
    """The pytket ``Architecture`` the backend compiles for, and the star (``None`` on a
    chip without a computational resonator).

    Args:
        dqa: the device's dynamic quantum architecture.
        couplings: the backend's ``arch`` override (qubit pairs), or ``None``.
        metrics: the calibration set's quality metrics (a star's MOVE and CZ errors).

    Raises:
        ConfigurationError: an override pair that cannot interact through the resonator, or
            a star chip the compiler does not handle (see :func:`~iqm_async.compiler.
            star_device`); as :func:`~iqm_async.compiler.architecture_from_dqa` otherwise.
    """
    star = compiler.star_device(dqa, metrics)
    if star is None:
        return compiler.architecture_from_dqa(dqa, couplings), None
    if couplings is None:
        return compiler.star_architecture(star), star
    pairs = []
    for pair in couplings:
        names = tuple(pair)
        if len(names) != 2 or not all(n in star.qubits for n in names):
            raise ConfigurationError(
                f"Coupling {list(names)} is not a pair of this star chip's qubits "
                f"({', '.join(star.qubits)}); give pairs like ('QB1', 'QB2')."
            )
        if not star.couples(names[0], names[1]):
            raise ConfigurationError(
                f"Qubits {names[0]} and {names[1]} cannot run a CZ through resonator "
                f"'{star.resonator}' (one needs a calibrated move, the other a calibrated cz "
                "with it); leave the pair out of arch."
            )
        pairs.append((qubit_name_to_node(names[0]), qubit_name_to_node(names[1])))
    if not pairs:
        raise ConfigurationError("arch names no qubit pairs; give pairs like ('QB1', 'QB2').")
    return Architecture(pairs), star


def star_rewrite(star: StarDevice | None) -> compiler.Rewrite | None:
    """The translator's last step on this chip: MOVE insertion on a star, else nothing."""
    return None if star is None else partial(compiler.insert_moves, star=star)


def star_misc(star: StarDevice | None) -> dict[str, Any]:
    """``backend_info.misc`` entries of a star chip (none on other chips)."""
    if star is None:
        return {}
    return {
        "computational_resonators": [star.resonator],
        "resonator_qubits": list(star.qubits),
        "movable_qubits": sorted(star.movable, key=star.qubits.index),
    }


def check_no_resonator(index: int, circuit: Circuit, star: StarDevice | None) -> None:
    """Refuse a circuit that uses the computational resonator directly (no I/O).

    Raises:
        CircuitValidationError: naming the circuit, the resonator and the qubit or gate that
            uses it, and saying that the backend inserts the MOVEs itself.
    """
    if star is None:
        return
    resonator = star.resonator.lower()
    label = f"Circuit {index} ({circuit.name or 'unnamed'})"
    fix = (
        "on a star chip, write circuits on qubits only: the backend moves qubit states into "
        "the resonator itself (MOVE gates) when it translates a compiled circuit."
    )
    for qubit in circuit.qubits:
        if qubit.reg_name.lower() == resonator or str(qubit).lower() == resonator:
            raise CircuitValidationError(
                f"{label} acts on the computational resonator '{star.resonator}' directly "
                f"(qubit {qubit}); {fix}"
            )
    for command in circuit.get_commands():
        name = command.op.get_name()
        if name.lower().startswith("move"):
            raise CircuitValidationError(
                f"{label} has a '{name}' gate on {[str(q) for q in command.qubits]}: MOVEs "
                f"into resonator '{star.resonator}' cannot be written in pytket; {fix}"
            )
