"""Star chips: qubits coupled through a computational resonator (private module).

On a star chip (IQM Deneb, Sirius, the 24-qubit star machines) no two qubits share a coupler:
each couples to a computational resonator ``R``. A CZ between qubits ``a`` and ``b`` runs as
``move(b, R) · cz(a, R) · move(b, R)``: ``b``'s state goes into the resonator, ``a`` interacts
with it there, and the second MOVE brings it back. The pair between two MOVEs of one qubit is
a *sandwich*; while it is open only barriers may act on the moved qubit (the server's
``strict`` MOVE validation), and the resonator holds one qubit at a time.

So the compiler works in two steps:

1. Placement and routing see the qubits as one fully connected set
   (:func:`star_architecture`): every pair one of whose qubits can be moved and the other
   can do a CZ with the resonator. With quality metrics each pair costs its composed error
   ``1 - (1 - e_move)^2 (1 - e_cz)`` (:func:`star_link_errors`).
2. After translation to native operations, :func:`insert_moves` replaces each qubit-qubit
   CZ with operations on the resonator. It schedules the operations (any order the circuit
   allows, with CZs of one qubit free to swap, as CZs commute) so that a qubit moved in
   stays there across every CZ that shares it; when it must choose which qubit to move, it
   takes the one that serves the most CZs, then the longest run of CZs ahead, then (with
   metrics) the least error, then the first in the chip's qubit order. The result satisfies
   ``strict`` MOVE validation and closes every sandwich. Same input, same output.

A qubit's state in the resonator is exactly its state on the qubit (the MOVE is a swap with
the empty resonator, the server's frame tracking keeping its phase), so the rewritten circuit
has the unitary of the original one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from pytket.architecture import Architecture
from pytket.passes import (
    BasePass,
    DecomposeBoxes,
    FullPeepholeOptimise,
    NaivePlacementPass,
    PlacementPass,
    RoutingPass,
    SequencePass,
    SynthesiseTket,
)
from pytket.placement import NoiseAwarePlacement

from ..errors import CircuitValidationError, ConfigurationError
from ..metadata import qubit_name_to_node
from ..models import DynamicQuantumArchitecture
from ..quality import QualityMetrics
from ._passes import OPTIMISATION_LEVELS, finishing_passes, rebase_pass

__all__ = [
    "StarDevice",
    "insert_moves",
    "move_count",
    "naive_insert_moves",
    "star_architecture",
    "star_compilation_pass",
    "star_device",
    "star_link_errors",
]

# One native operation: (name, qubits, args), as compiler._translate produces them.
NativeOp = tuple[str, tuple[str, ...], dict[str, Any]]

# Operations that may act on a qubit whose state is in the resonator (strict validation).
_ALLOWED_WHILE_MOVED = frozenset({"barrier"})
# Placement searches stop after this many matches (never on the wall clock), as in _mapping.
_PLACEMENT_MAX_MATCHES = 100
_PLACEMENT_SAFETY_TIMEOUT_MS = 600_000


@dataclass(frozen=True)
class StarDevice:
    """What the compiler needs to know about a chip with one computational resonator.

    Attributes:
        resonator: the resonator's name (``CR1``, ``COMP_R``).
        qubits: the qubits coupled to it (a ``move`` or a ``cz`` with it), in the chip's order.
        movable: qubits with a calibrated ``move`` into the resonator.
        cz_capable: qubits with a calibrated ``cz`` with the resonator.
        direct: qubit pairs with a calibrated qubit-qubit ``cz`` (none on IQM's star chips).
        move_error: per qubit, the error of one MOVE there and back (``1 -`` the double-MOVE
            fidelity); empty without metrics.
        cz_error: per qubit, the error of its CZ with the resonator; empty without metrics.
    """

    resonator: str
    qubits: tuple[str, ...]
    movable: frozenset[str]
    cz_capable: frozenset[str]
    direct: frozenset[frozenset[str]] = frozenset()
    move_error: Mapping[str, float] = field(default_factory=dict)
    cz_error: Mapping[str, float] = field(default_factory=dict)

    def resolutions(self, a: str, b: str) -> list[str]:
        """The qubits that can be moved to run CZ(a, b) through the resonator (0, 1 or 2)."""
        return [m for m, g in ((a, b), (b, a)) if m in self.movable and g in self.cz_capable]

    def couples(self, a: str, b: str) -> bool:
        """Whether a CZ between qubits ``a`` and ``b`` can run (through the resonator, or on
        a direct coupler)."""
        return a != b and (bool(self.resolutions(a, b)) or frozenset((a, b)) in self.direct)

    def sandwich_error(self, moved: str, partners: Sequence[str]) -> float:
        """Estimated error of moving ``moved`` in, running a CZ with each partner, moving it
        back: ``1 - (1 - e_move)^2 prod(1 - e_cz)`` (0 where no figure is known)."""
        survival = (1.0 - self.move_error.get(moved, 0.0)) ** 2
        for partner in partners:
            survival *= 1.0 - self.cz_error.get(partner, 0.0)
        return 1.0 - survival


def star_device(
    dqa: DynamicQuantumArchitecture, metrics: QualityMetrics | None = None
) -> StarDevice | None:
    """The chip's :class:`StarDevice`, or ``None`` when it has no computational resonator.

    Args:
        dqa: the dynamic quantum architecture of one calibration set.
        metrics: the calibration set's quality metrics, for the MOVE and CZ errors.

    Raises:
        ConfigurationError: more than one computational resonator (not supported yet), or a
            resonator that no qubit can both reach by MOVE and interact with by CZ.
    """
    resonators = list(dqa.computational_resonators)
    if not resonators:
        return None
    if len(resonators) > 1:
        raise ConfigurationError(
            f"The device has {len(resonators)} computational resonators ({', '.join(resonators)}); "
            "circuits for chips with more than one resonator are not compiled yet. Use "
            "AsyncIQMClient with native circuits that place the MOVEs themselves."
        )
    resonator = resonators[0]
    qubit_set = set(dqa.qubits)
    movable = {q for q, r in _pairs(dqa, "move") if r == resonator and q in qubit_set}
    cz_capable = {q for locus in _pairs(dqa, "cz") for q in _resonator_partner(locus, resonator)}
    direct = frozenset(
        frozenset(locus)
        for locus in _pairs(dqa, "cz")
        if len(set(locus)) == 2 and set(locus) <= qubit_set
    )
    if not movable or not cz_capable:
        raise ConfigurationError(
            f"Computational resonator '{resonator}' has no calibrated move and cz loci in "
            f"calibration set {dqa.calibration_set_id}, so no qubits interact through it; "
            "pick another calibration set."
        )
    move_error: dict[str, float] = {}
    cz_error: dict[str, float] = {}
    if metrics is not None:
        for q in movable:
            fidelity = metrics.move(q, resonator)
            if fidelity is not None:
                move_error[q] = 1.0 - fidelity
        for q in cz_capable:
            fidelity = metrics.cz(q, resonator)
            if fidelity is not None:
                cz_error[q] = 1.0 - fidelity
    return StarDevice(
        resonator=resonator,
        qubits=tuple(q for q in dqa.qubits if q in movable or q in cz_capable),
        movable=frozenset(movable),
        cz_capable=frozenset(cz_capable),
        direct=direct,
        move_error=move_error,
        cz_error=cz_error,
    )


def _pairs(dqa: DynamicQuantumArchitecture, gate: str) -> list[tuple[str, ...]]:
    return [tuple(locus) for locus in dqa.loci(gate) if len(locus) == 2]


def _resonator_partner(locus: tuple[str, ...], resonator: str) -> list[str]:
    """The qubit of a (qubit, resonator) cz locus, in either order; [] for other loci."""
    if resonator not in locus or len(set(locus)) != 2:
        return []
    return [q for q in locus if q != resonator]


def _star_pairs(star: StarDevice) -> list[tuple[str, str]]:
    return [(a, b) for a, b in combinations(star.qubits, 2) if star.couples(a, b)]


def star_architecture(star: StarDevice) -> Architecture:
    """The pytket ``Architecture`` routing sees: every pair of the star's qubits that can run
    a CZ, through the resonator or directly (on IQM's star chips, all pairs)."""
    pairs = _star_pairs(star)
    if not pairs:
        raise ConfigurationError(
            f"No two qubits can interact through resonator '{star.resonator}' (a CZ needs one "
            "qubit with a calibrated move and the other with a calibrated cz on it)."
        )
    return Architecture([(qubit_name_to_node(a), qubit_name_to_node(b)) for a, b in pairs])


def star_link_errors(star: StarDevice) -> dict[tuple[str, str], float]:
    """Each coupled pair's CZ error through the resonator, both orders as keys: the better
    of its resolutions, ``1 - (1 - e_move)^2 (1 - e_cz)``. Pairs with no figure for either
    gate are left out (the caller decides what an unknown pair costs)."""
    errors: dict[tuple[str, str], float] = {}
    for a, b in _star_pairs(star):
        known = [
            star.sandwich_error(m, [b if m == a else a])
            for m in star.resolutions(a, b)
            if m in star.move_error and (b if m == a else a) in star.cz_error
        ]
        if known:
            errors[(a, b)] = errors[(b, a)] = min(known)
    return errors


def star_compilation_pass(
    star: StarDevice, optimisation_level: int = 2, *, noise_aware: bool = True
) -> BasePass:
    """The compilation pass for a star chip, deterministic.

    Without error figures (or with ``noise_aware=False``) it is
    :func:`~iqm_async.compiler.default_compilation_pass` on :func:`star_architecture`. With
    them, levels 1 and 2 place the circuit with pytket's ``NoiseAwarePlacement`` on the
    pairs' composed errors (:func:`star_link_errors`; a pair without a figure costs the worst
    known one) instead; no routing is ever needed, the qubits being fully connected.

    Raises:
        ConfigurationError: a level outside 0-2, or a star whose qubits cannot interact.
    """
    from ._passes import default_compilation_pass

    if optimisation_level not in OPTIMISATION_LEVELS:
        raise ConfigurationError(
            f"optimisation_level must be 0, 1 or 2, got {optimisation_level!r}."
        )
    architecture = star_architecture(star)
    links = star_link_errors(star)
    if not noise_aware or not links or optimisation_level == 0:
        return default_compilation_pass(architecture, optimisation_level)
    worst = max(links.values())
    link_errors = {
        (qubit_name_to_node(a), qubit_name_to_node(b)): links.get((a, b), worst)
        for a, b in _star_pairs(star)
        for a, b in ((a, b), (b, a))
    }
    placement = NoiseAwarePlacement(
        architecture,
        link_errors=link_errors,
        maximum_matches=_PLACEMENT_MAX_MATCHES,
        timeout=_PLACEMENT_SAFETY_TIMEOUT_MS,
    )
    synthesis = SynthesiseTket() if optimisation_level == 1 else FullPeepholeOptimise()
    return SequencePass(
        [
            DecomposeBoxes(),
            synthesis,
            rebase_pass(),  # placement and routing need gates of at most two qubits
            PlacementPass(placement),
            RoutingPass(architecture),
            NaivePlacementPass(architecture),
            *finishing_passes(optimisation_level),
        ]
    )


# --- MOVE insertion ----------------------------------------------------------------------------


def _cz_unresolvable(index: int, a: str, b: str, star: StarDevice) -> CircuitValidationError:
    return CircuitValidationError(
        f"Operation {index} is a CZ on ({a}, {b}), which cannot run through resonator "
        f"'{star.resonator}': one of the two qubits needs a calibrated move and the other a "
        "calibrated cz with it. Compile the circuit for this device first."
    )


class _Scheduler:
    """The state of one :func:`insert_moves` run: the operations left, per qubit, and which
    qubit's state is in the resonator."""

    def __init__(self, ops: Sequence[NativeOp], star: StarDevice) -> None:
        self.ops = ops
        self.star = star
        self.order = {q: i for i, q in enumerate(star.qubits)}
        self.queues: dict[str, list[int]] = {}
        for index, (name, qubits, _) in enumerate(ops):
            for qubit in qubits:
                if qubit == star.resonator:
                    raise CircuitValidationError(
                        f"Operation {index} ({name}) acts on the computational resonator "
                        f"'{star.resonator}' directly; write circuits on qubits only, the "
                        "compiler moves states into the resonator itself."
                    )
                self.queues.setdefault(qubit, []).append(index)
            if name == "cz" and len(qubits) == 2 and not star.couples(*qubits):
                raise _cz_unresolvable(index, qubits[0], qubits[1], star)
        self.done = [False] * len(ops)
        self.left = len(ops)
        self.held: str | None = None
        self.out: list[NativeOp] = []

    def _is_cz(self, index: int) -> bool:
        return self.ops[index][0] == "cz"

    def cz_run(self, qubit: str) -> list[int]:
        """The CZs at the front of ``qubit``'s queue: any of them may run next on it."""
        run = []
        for index in self.queues.get(qubit, []):
            if not self._is_cz(index):
                break
            run.append(index)
        return run

    def ready(self, index: int) -> bool:
        _, qubits, _ = self.ops[index]
        if self._is_cz(index):
            return all(index in self.cz_run(q) for q in qubits)
        return all(self.queues[q][0] == index for q in qubits)

    def emit(self, index: int, op: NativeOp) -> None:
        self.out.append(op)
        self.done[index] = True
        self.left -= 1
        for qubit in self.ops[index][1]:
            self.queues[qubit].remove(index)

    def move(self, qubit: str) -> None:
        self.out.append(("move", (qubit, self.star.resonator), {}))
        self.held = None if self.held == qubit else qubit

    def fronts(self) -> list[int]:
        """Every ready operation, in circuit order."""
        seen: set[int] = set()
        for qubit, queue in self.queues.items():
            candidates = self.cz_run(qubit) or queue[:1]
            seen.update(i for i in candidates if i not in seen and self.ready(i))
        return sorted(seen)

    def served_as_is(self, index: int) -> NativeOp | None:
        """The operation to emit for ready op ``index`` without moving anything, or None."""
        name, qubits, args = self.ops[index]
        held = self.held
        if name == "cz" and len(qubits) == 2:
            a, b = qubits
            if held in qubits:
                other = b if held == a else a
                if other in self.star.cz_capable:
                    return ("cz", (other, self.star.resonator), args)
                return None
            if frozenset(qubits) in self.star.direct:
                return self.ops[index]
            return None
        if held in qubits and name not in _ALLOWED_WHILE_MOVED:
            return None
        return self.ops[index]

    def is_final_measure(self, index: int) -> bool:
        """A measure that is the last operation on each of its qubits."""
        name, qubits, _ = self.ops[index]
        return name == "measure" and all(self.queues[q] == [index] for q in qubits)

    def run(self) -> list[NativeOp]:
        while self.left:
            progressed = True
            while progressed:
                progressed = False
                for index in self.fronts():
                    # Final measurements wait for the end, in the given order, so no
                    # measurement is brought forward before another qubit's gates.
                    op = None if self.is_final_measure(index) else self.served_as_is(index)
                    if op is not None:
                        self.emit(index, op)
                        progressed = True
            fronts = self.fronts()
            if all(self.is_final_measure(i) for i in fronts) and len(fronts) == self.left:
                if self.held is not None:
                    self.move(self.held)
                for index in fronts:
                    self.emit(index, self.ops[index])
            elif self.left:
                self.switch()
        if self.held is not None:
            self.move(self.held)  # close the last sandwich: the qubit may be read later
        return self.out

    def switch(self) -> None:
        """Nothing runs as the resonator stands: move the held qubit out, and move in the
        qubit that serves the most waiting CZs (then the longest run of CZs ahead, the least
        error, the first in the chip's order)."""
        waiting = [i for i in self.fronts() if self._is_cz(i)]
        best: tuple[tuple[int, int, float, int], str] | None = None
        for qubit in dict.fromkeys(q for i in waiting for q in self.ops[i][1]):
            if qubit not in self.star.movable or qubit == self.held:
                continue
            partners = [
                other
                for i in waiting
                if qubit in self.ops[i][1]
                for other in self.ops[i][1]
                if other != qubit and other in self.star.cz_capable
            ]
            if not partners:
                continue
            score = (
                -len(partners),
                -len(self.cz_run(qubit)),
                self.star.sandwich_error(qubit, partners),
                self.order.get(qubit, len(self.order)),
            )
            if best is None or score < best[0]:
                best = (score, qubit)
        if best is None and self.held is None:
            # Only a CZ that no MOVE can serve is left at the front (the constructor refuses
            # such CZs, so this is a safety net).
            _, qubits, _ = self.ops[waiting[0]]
            raise _cz_unresolvable(waiting[0], qubits[0], qubits[-1], self.star)
        if self.held is not None:
            self.move(self.held)
        if best is not None:
            self.move(best[1])


def insert_moves(ops: Sequence[NativeOp], star: StarDevice) -> list[NativeOp]:
    """Rewrite native operations for a star chip: each qubit-qubit CZ becomes a CZ with the
    resonator inside a MOVE sandwich, as few MOVEs as the scheduling above finds.

    Args:
        ops: ``(name, qubits, args)`` operations on the star's qubits, as the translator
            makes them; CZs between any two coupled qubits.
        star: the chip (:func:`star_device`).

    Returns:
        New operations that pass the server's ``strict`` MOVE validation and close every
        sandwich; operations on different qubits may come in another order than given.

    Raises:
        CircuitValidationError: an operation on the resonator itself, or a CZ between
            qubits that cannot interact through it.
    """
    return _Scheduler(ops, star).run()


def naive_insert_moves(ops: Sequence[NativeOp], star: StarDevice) -> list[NativeOp]:
    """The baseline :func:`insert_moves` is measured against: every CZ gets its own MOVE
    sandwich (two MOVEs), the moved qubit being the second one that can be moved."""
    out: list[NativeOp] = []
    for index, (name, qubits, args) in enumerate(ops):
        if name == "cz" and len(qubits) == 2 and frozenset(qubits) not in star.direct:
            a, b = qubits
            options = star.resolutions(a, b)
            if not options:
                raise _cz_unresolvable(index, a, b, star)
            moved = b if b in options else a
            other = a if moved == b else b
            sandwich: NativeOp = ("move", (moved, star.resonator), {})
            out += [sandwich, ("cz", (other, star.resonator), args), sandwich]
        else:
            out.append((name, qubits, args))
    return out


def move_count(ops: Sequence[tuple[str, Any, Any]]) -> int:
    """How many ``move`` operations ``ops`` holds."""
    return sum(1 for name, _, _ in ops if name == "move")
