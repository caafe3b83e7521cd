"""Error rates per qubit, coupler and readout, for placement and ``backend_info`` (private).

:class:`DeviceErrors` is what the compiler reads of a calibration set's
:class:`~iqm_async.quality.QualityMetrics`: the ``prx`` error per qubit, the CZ error per
coupler and the two readout errors per qubit, all as error rates (``1 - fidelity``).

A qubit or coupler the server published no figure for is given the *worst* figure observed
for that kind, never a perfect one: pytket's ``NoiseAwarePlacement`` (and the qubit
selectors of other SDKs) read a missing entry as error 0, which would steer circuits onto the
very couplers nobody measured. A kind with no figure at all (say, no readout errors) counts
as error 0 everywhere: the same for every placement, so it does not change the choice.

:func:`estimated_success_probability` multiplies the fidelities of a compiled circuit's gates
and readouts: the chance that no gate or readout went wrong, assuming independent errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytket.architecture import Architecture
from pytket.circuit import Circuit, Node, OpType

from ..errors import CircuitValidationError
from ..metadata import node_to_qubit_name
from ..quality import QualityMetrics

Pair = tuple[str, str]

# Commands that cost nothing: not gates on the device (a barrier only orders the schedule).
_FREE = frozenset({OpType.Barrier})


def _pair(a: str, b: str) -> Pair:
    """A coupler's key: its two names in sorted order (errors are the same both ways)."""
    return (a, b) if a <= b else (b, a)


def _worst(values: Iterable[float]) -> float:
    return max(values, default=0.0)


@dataclass(frozen=True)
class DeviceErrors:
    """Error rates of one device, as published, with the worst figure for what is missing.

    Attributes:
        prx: qubit name -> ``prx`` error (``1 -`` its RB fidelity), where published.
        cz: sorted qubit pair -> CZ error (``1 -`` its IRB fidelity), where published.
        readout: qubit name -> ``(e01, e10)``: P(read 1 | 0) and P(read 0 | 1), where
            published (from the readout fidelity ``F`` alone: ``(1 - F, 1 - F)``).
        calibration_set_id: the calibration set the figures describe, as text, if known.
    """

    prx: Mapping[str, float] = field(default_factory=dict)
    cz: Mapping[Pair, float] = field(default_factory=dict)
    readout: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    calibration_set_id: str | None = None

    @classmethod
    def from_metrics(cls, metrics: QualityMetrics) -> DeviceErrors:
        """The error rates in ``metrics`` (missing figures stay missing here; lookups fill
        them with the worst observed)."""
        prx: dict[str, float] = {}
        readout: dict[str, tuple[float, float]] = {}
        for name in sorted(metrics.qubits):
            quality = metrics.qubits[name]
            if quality.prx_fidelity is not None:
                prx[name] = 1.0 - quality.prx_fidelity
            e01, e10 = quality.readout_error_0_to_1, quality.readout_error_1_to_0
            if e01 is None or e10 is None:
                # One error alone, or the fidelity alone: the mean error for both directions.
                mean = quality.readout_error
                if mean is None:
                    continue
                e01 = mean if e01 is None else e01
                e10 = mean if e10 is None else e10
            readout[name] = (e01, e10)
        cz: dict[Pair, float] = {}
        for (a, b), fidelity in sorted(metrics.cz_fidelity.items()):
            cz.setdefault(_pair(a, b), 1.0 - fidelity)
        cal = metrics.calibration_set_id
        return cls(prx, cz, readout, None if cal is None else str(cal))

    @property
    def is_empty(self) -> bool:
        """True when there is no figure at all (placement then counts CZs only)."""
        return not (self.prx or self.cz or self.readout)

    # --- lookups, filled with the worst observed figure ---------------------------------

    def prx_error(self, qubit: str) -> float:
        """The ``prx`` error of ``qubit`` (the worst published one if it has none)."""
        found = self.prx.get(qubit)
        return found if found is not None else _worst(self.prx.values())

    def cz_error(self, a: str, b: str) -> float:
        """The CZ error of the coupler ``a``-``b`` in either order (the worst published one
        if it has none)."""
        found = self.cz.get(_pair(a, b))
        return found if found is not None else _worst(self.cz.values())

    def readout_errors(self, qubit: str) -> tuple[float, float]:
        """``(e01, e10)`` of ``qubit`` (each the worst published one if it has none)."""
        found = self.readout.get(qubit)
        if found is not None:
            return found
        return (
            _worst(e01 for e01, _ in self.readout.values()),
            _worst(e10 for _, e10 in self.readout.values()),
        )

    def readout_error(self, qubit: str) -> float:
        """The mean readout error ``(e01 + e10) / 2`` of ``qubit``."""
        e01, e10 = self.readout_errors(qubit)
        return (e01 + e10) / 2

    # --- (de)serialising, for pass labels ---------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (sorted, so equal errors give equal text); see :meth:`from_json`."""
        return {
            "prx": dict(sorted(self.prx.items())),
            "cz": [[a, b, e] for (a, b), e in sorted(self.cz.items())],
            "readout": {q: list(e) for q, e in sorted(self.readout.items())},
            "calibration_set_id": self.calibration_set_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceErrors:
        """Rebuild from :meth:`to_json`."""
        return cls(
            prx={str(q): float(e) for q, e in data["prx"].items()},
            cz={_pair(str(a), str(b)): float(e) for a, b, e in data["cz"]},
            readout={str(q): (float(e[0]), float(e[1])) for q, e in data["readout"].items()},
            calibration_set_id=data.get("calibration_set_id"),
        )

    def key(self) -> str:
        """Canonical text of these errors (equal errors, equal text)."""
        return json.dumps(self.to_json(), sort_keys=True)


def device_errors(metrics: QualityMetrics | DeviceErrors | None) -> DeviceErrors | None:
    """The error rates to place with, or ``None`` when there are none (no metrics, or
    metrics without a single figure): placement then keeps the fewest-CZ circuit."""
    if metrics is None:
        return None
    errors = metrics if isinstance(metrics, DeviceErrors) else DeviceErrors.from_metrics(metrics)
    return None if errors.is_empty else errors


def backend_info_errors(errors: DeviceErrors, architecture: Architecture) -> dict[str, Any]:
    """pytket ``BackendInfo`` keyword arguments for the error fields of ``architecture``.

    Every node and both directions of every coupling get an entry (the worst published
    figure where the server published none), so pytket's noise-aware passes never see a
    missing entry, which they would read as perfect. A kind with no figure at all is left
    out (its fields stay ``None``).
    """
    nodes = sorted(architecture.nodes)
    names = {node: node_to_qubit_name(node) for node in nodes}
    fields: dict[str, Any] = {}
    if errors.prx:
        averaged = {node: errors.prx_error(names[node]) for node in nodes}
        fields["averaged_node_gate_errors"] = averaged
        fields["all_node_gate_errors"] = {n: {OpType.PhasedX: e} for n, e in averaged.items()}
    if errors.cz:
        edges: dict[tuple[Node, Node], float] = {}
        for a, b in architecture.coupling:
            error = errors.cz_error(names[a], names[b])
            edges[(a, b)] = error
            edges[(b, a)] = error
        fields["averaged_edge_gate_errors"] = edges
        fields["all_edge_gate_errors"] = {e: {OpType.CZ: v} for e, v in edges.items()}
    if errors.readout:
        matrices: dict[Node, list[list[float]]] = {}
        for node in nodes:
            e01, e10 = errors.readout_errors(names[node])
            matrices[node] = [[1.0 - e01, e01], [e10, 1.0 - e10]]
        fields["all_readout_errors"] = matrices
        fields["averaged_readout_errors"] = {
            node: errors.readout_error(names[node]) for node in nodes
        }
    return fields


def noise_aware_placement_errors(
    errors: DeviceErrors, architecture: Architecture
) -> tuple[dict[Node, float], dict[tuple[Node, Node], float], dict[Node, float]]:
    """``(node_errors, link_errors, readout_errors)`` for pytket's ``NoiseAwarePlacement``,
    every node and both directions of every coupling filled."""
    fields = backend_info_errors(errors, architecture)
    return (
        fields.get("averaged_node_gate_errors", {}),
        fields.get("averaged_edge_gate_errors", {}),
        fields.get("averaged_readout_errors", {}),
    )


@dataclass(frozen=True)
class GateTally:
    """How many ``prx``, CZ and measurements a compiled circuit puts where (node indices)."""

    prx: Mapping[int, int]
    cz: Mapping[tuple[int, int], int]
    measure: Mapping[int, int]
    nodes: tuple[int, ...]


def tally(circuit: Circuit) -> GateTally:
    """Count the native gates of a compiled circuit per node and per coupler.

    Raises:
        CircuitValidationError: the circuit is not compiled for the device: a qubit that is
            not a device node, or a gate other than PhasedX, CZ, Measure and Barrier.
    """
    # node_to_qubit_name raises a clear error for a qubit that is not a device node.
    index = {q: int(node_to_qubit_name(q)[2:]) - 1 for q in circuit.qubits}
    prx: dict[int, int] = {}
    cz: dict[tuple[int, int], int] = {}
    measure: dict[int, int] = {}
    for command in circuit.get_commands():
        optype = command.op.type
        if optype == OpType.PhasedX:
            node = index[command.qubits[0]]
            prx[node] = prx.get(node, 0) + 1
        elif optype == OpType.CZ:
            a, b = sorted(index[q] for q in command.qubits)
            cz[(a, b)] = cz.get((a, b), 0) + 1
        elif optype == OpType.Measure:
            node = index[command.qubits[0]]
            measure[node] = measure.get(node, 0) + 1
        elif optype not in _FREE:
            raise CircuitValidationError(
                f"The circuit has a {optype.name} gate, which the device does not run; compile "
                "it first (default_compilation_pass) so that it has only PhasedX, CZ and "
                "Measure gates."
            )
    return GateTally(prx, cz, measure, tuple(sorted(index.values())))


def moved(counts: GateTally, moves: Mapping[int, int]) -> GateTally:
    """The tally of the same circuit with node ``i`` moved to ``moves[i]``."""

    def to(node: int) -> int:
        return moves.get(node, node)

    cz: dict[tuple[int, int], int] = {}
    for (a, b), n in counts.cz.items():
        pair = tuple(sorted((to(a), to(b))))
        cz[(pair[0], pair[1])] = n
    return GateTally(
        prx={to(u): n for u, n in counts.prx.items()},
        cz=cz,
        measure={to(u): n for u, n in counts.measure.items()},
        nodes=tuple(sorted(to(u) for u in counts.nodes)),
    )


def log_success(counts: GateTally, errors: DeviceErrors) -> float:
    """The natural log of the estimated success probability of a tallied circuit."""
    total = 0.0
    for node, n in counts.prx.items():
        total += n * math.log1p(-errors.prx_error(f"QB{node + 1}"))
    for (a, b), n in counts.cz.items():
        total += n * math.log1p(-errors.cz_error(f"QB{a + 1}", f"QB{b + 1}"))
    for node, n in counts.measure.items():
        total += n * math.log1p(-errors.readout_error(f"QB{node + 1}"))
    return total


def estimated_success_probability(
    circuit: Circuit, metrics: QualityMetrics | DeviceErrors
) -> float:
    """The estimated chance that a compiled circuit runs without a gate or readout error.

    The product, over the circuit's gates, of each ``prx``'s and CZ's fidelity on the qubits
    or coupler it runs on, times ``1 - (e01 + e10) / 2`` per measured qubit; a figure the
    calibration set lacks is the worst published one of its kind. Idle decoherence is not
    counted. Between 0 and 1; 1 for a circuit without gates (or metrics without figures).

    Args:
        circuit: a circuit compiled for the device (native gates on ``node[i]`` qubits).
        metrics: the calibration set's quality metrics
            (``await client.quality_metrics()``, or ``IQMBackend.quality_metrics``).

    Raises:
        CircuitValidationError: the circuit is not compiled for the device.
    """
    errors = metrics if isinstance(metrics, DeviceErrors) else DeviceErrors.from_metrics(metrics)
    return math.exp(log_success(tally(circuit), errors))
