"""A calibration set's quality metrics, typed: what the placement, ``backend_info``, the noisy
emulator and readout mitigation read.

Servers publish, per calibration set, a flat list of named observations
(``metrics.rb.prx.drag_crf.QB1.fidelity`` = 0.9995, ...). :func:`metrics_from_observations`
turns such a list into a :class:`QualityMetrics`: per qubit the prx fidelity, the readout
errors and T1/T2, per coupler the CZ fidelity, per qubit-resonator pair the MOVE fidelity.

A missing, invalid or out-of-range value is *absent* (``None`` or no key), never perfect:
callers decide what an unknown figure costs (the worst observed one, as a rule).

The reply shapes of the two server APIs are read in :mod:`iqm_async.api`; this module knows
only the metric names (their grammar is in ``docs/architecture.md`` and the server's
observation naming: ``.``-separated paths, ``__`` joining a locus, ``:key=value`` suffixes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

__all__ = [
    "MetricName",
    "QualityMetrics",
    "QubitQuality",
    "metric_observations",
    "metrics_from_observations",
    "parse_metric_name",
]

Pair = tuple[str, str]


@dataclass(frozen=True)
class QubitQuality:
    """One qubit's figures; ``None`` where the server published none (or an invalid one).

    Attributes:
        prx_fidelity: single-qubit randomized-benchmarking fidelity of ``prx``.
        readout_error_0_to_1: P(read 1 | prepared 0).
        readout_error_1_to_0: P(read 0 | prepared 1).
        readout_fidelity: single-shot readout fidelity as published (about
            ``1 - (e01 + e10) / 2``).
        t1_s, t2_s, t2_echo_s: relaxation, Ramsey and echo dephasing times, in seconds.
    """

    prx_fidelity: float | None = None
    readout_error_0_to_1: float | None = None
    readout_error_1_to_0: float | None = None
    readout_fidelity: float | None = None
    t1_s: float | None = None
    t2_s: float | None = None
    t2_echo_s: float | None = None

    @property
    def readout_error(self) -> float | None:
        """The mean readout error ``(e01 + e10) / 2``, from the two errors where both are
        published, else ``1 - readout_fidelity``."""
        if self.readout_error_0_to_1 is not None and self.readout_error_1_to_0 is not None:
            return (self.readout_error_0_to_1 + self.readout_error_1_to_0) / 2
        if self.readout_fidelity is not None:
            return 1.0 - self.readout_fidelity
        return None


@dataclass(frozen=True)
class QualityMetrics:
    """The quality metrics of one calibration set.

    Attributes:
        calibration_set_id: the calibration set they describe (``None`` if not said).
        qubits: per qubit (and computational resonator, for T1/T2) name.
        cz_fidelity: per coupler, keyed in the order the server named it; look up with
            :meth:`cz`, which accepts either order.
        move_fidelity: per (qubit, resonator): the double-MOVE interleaved RB fidelity.
    """

    calibration_set_id: UUID | None = None
    qubits: Mapping[str, QubitQuality] = field(default_factory=dict)
    cz_fidelity: Mapping[Pair, float] = field(default_factory=dict)
    move_fidelity: Mapping[Pair, float] = field(default_factory=dict)

    def qubit(self, name: str) -> QubitQuality:
        """The figures of ``name`` (all ``None`` when the server published nothing)."""
        return self.qubits.get(name, _NOTHING)

    def cz(self, a: str, b: str) -> float | None:
        """The CZ fidelity of the coupler ``a``-``b``, in either order."""
        found = self.cz_fidelity.get((a, b))
        return found if found is not None else self.cz_fidelity.get((b, a))

    def move(self, qubit: str, resonator: str) -> float | None:
        """The double-MOVE fidelity of ``qubit`` with ``resonator``."""
        found = self.move_fidelity.get((qubit, resonator))
        return found if found is not None else self.move_fidelity.get((resonator, qubit))

    @property
    def is_empty(self) -> bool:
        """True when no figure at all was published."""
        return not (self.cz_fidelity or self.move_fidelity) and all(
            quality == _NOTHING for quality in self.qubits.values()
        )


_NOTHING = QubitQuality()


@dataclass(frozen=True)
class MetricName:
    """A metric name this SDK reads, taken apart.

    Attributes:
        kind: ``"prx"``, ``"cz"``, ``"move"``, ``"readout"`` or ``"model"``.
        locus: the components (``("QB1",)``, ``("QB1", "QB2")``).
        quantity: ``fidelity``, ``error_0_to_1``, ``error_1_to_0``, ``t1_time``, ...
        implementation: the gate implementation benchmarked (``""`` for ``model``).
        suffix: the ``:key=value`` part, without the colon (``""`` if none).
    """

    kind: str
    locus: tuple[str, ...]
    quantity: str
    implementation: str = ""
    suffix: str = ""


_READOUT_QUANTITIES = frozenset({"fidelity", "error_0_to_1", "error_1_to_0"})
# (domain path prefix, kind, locus size, quantities read).
_GATE_METRICS: tuple[tuple[tuple[str, ...], str, int, frozenset[str]], ...] = (
    (("metrics", "rb", "prx"), "prx", 1, frozenset({"fidelity"})),
    (("metrics", "irb", "cz"), "cz", 2, frozenset({"fidelity"})),
    (("metrics", "irb", "move"), "move", 2, frozenset({"fidelity"})),
    (("metrics", "ssro", "measure"), "readout", 1, _READOUT_QUANTITIES),
    # Older servers and tools name the same single-shot readout figures this way.
    (("metrics", "ssro", "measure_fidelity"), "readout", 1, _READOUT_QUANTITIES),
)
_MODEL_QUANTITIES = frozenset({"t1_time", "t2_time", "t2_echo_time"})


def parse_metric_name(name: str) -> MetricName | None:
    """Take a metric name apart; ``None`` for names this SDK does not read (there are many:
    Clifford, GHZ, QND-ness, ...), so unknown names never raise."""
    if not isinstance(name, str):
        return None
    path, _, suffix = name.partition(":")
    parts = path.split(".")
    if len(parts) == 4 and parts[:2] == ["characterization", "model"]:
        if parts[3] in _MODEL_QUANTITIES and parts[2]:
            return MetricName("model", (parts[2],), parts[3], "", suffix)
        return None
    for prefix, kind, size, quantities in _GATE_METRICS:
        if len(parts) == 6 and tuple(parts[:3]) == prefix and parts[5] in quantities:
            locus = tuple(parts[4].split("__"))
            if len(locus) == size and all(locus) and parts[3]:
                return MetricName(kind, locus, parts[5], parts[3], suffix)
    return None


def _usable(value: object, quantity: str) -> float | None:
    """The value as a float if it is a sane figure for ``quantity``, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if quantity == "fidelity":
        return number if 0.0 < number <= 1.0 else None
    if quantity.startswith("error_"):
        return number if 0.0 <= number <= 1.0 else None
    return number if number > 0.0 else None  # times, in seconds


def _preference(metric: MetricName, default_impl: str | None) -> tuple[int, int, str, str]:
    """Sort key among entries for the same figure: the default implementation first, then
    the parallel-benchmarked ``par=d2`` figure, then no suffix; ties broken by name so the
    choice never depends on the server's order."""
    suffix_rank = 0 if metric.suffix == "par=d2" else 1 if metric.suffix == "" else 2
    impl_rank = 0 if default_impl is None or metric.implementation == default_impl else 1
    return impl_rank, suffix_rank, metric.implementation, metric.suffix


_QUBIT_FIELDS = {
    ("prx", "fidelity"): "prx_fidelity",
    ("readout", "fidelity"): "readout_fidelity",
    ("readout", "error_0_to_1"): "readout_error_0_to_1",
    ("readout", "error_1_to_0"): "readout_error_1_to_0",
    ("model", "t1_time"): "t1_s",
    ("model", "t2_time"): "t2_s",
    ("model", "t2_echo_time"): "t2_echo_s",
}


def metrics_from_observations(
    observations: Iterable[tuple[str, object]],
    *,
    calibration_set_id: UUID | None = None,
    default_implementations: Mapping[str, str] | None = None,
) -> QualityMetrics:
    """Build :class:`QualityMetrics` from ``(name, value)`` pairs.

    Args:
        observations: the metric names and their values (numbers; anything else, and
            out-of-range figures, are dropped). Invalid observations should be left out by
            the caller.
        calibration_set_id: the calibration set the metrics describe.
        default_implementations: gate name -> the implementation the server runs by
            default (``prx`` -> ``drag_crf``, ...), from the dynamic architecture; its figures
            are preferred over other implementations' where both are published.
    """
    defaults = default_implementations or {}
    gate_of_kind = {"prx": "prx", "cz": "cz", "move": "move", "readout": "measure"}
    best: dict[tuple[str, tuple[str, ...], str], tuple[tuple[int, int, str, str], float]] = {}
    for name, raw in observations:
        metric = parse_metric_name(name)
        if metric is None:
            continue
        value = _usable(raw, metric.quantity)
        if value is None:
            continue
        rank = _preference(metric, defaults.get(gate_of_kind.get(metric.kind, "")))
        key = (metric.kind, metric.locus, metric.quantity)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, value)

    per_qubit: dict[str, dict[str, float]] = {}
    cz: dict[Pair, float] = {}
    move: dict[Pair, float] = {}
    for (kind, locus, quantity), (_, value) in sorted(best.items()):
        if kind == "cz":
            cz[(locus[0], locus[1])] = value
        elif kind == "move":
            move[(locus[0], locus[1])] = value
        else:
            per_qubit.setdefault(locus[0], {})[_QUBIT_FIELDS[(kind, quantity)]] = value
    # A coupler published in both orders keeps one entry: the name-sorted first.
    for a, b in list(cz):
        if (b, a) in cz and (a, b) in cz and (b, a) > (a, b):
            del cz[(b, a)]
    return QualityMetrics(
        calibration_set_id=calibration_set_id,
        qubits={name: QubitQuality(**fields) for name, fields in per_qubit.items()},
        cz_fidelity=cz,
        move_fidelity=move,
    )


_WRITTEN_QUBIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("prx_fidelity", "metrics.rb.prx.{prx}.{qb}.fidelity:par=d2"),
    ("readout_fidelity", "metrics.ssro.measure.{measure}.{qb}.fidelity"),
    ("readout_error_0_to_1", "metrics.ssro.measure.{measure}.{qb}.error_0_to_1"),
    ("readout_error_1_to_0", "metrics.ssro.measure.{measure}.{qb}.error_1_to_0"),
    ("t1_s", "characterization.model.{qb}.t1_time"),
    ("t2_s", "characterization.model.{qb}.t2_time"),
    ("t2_echo_s", "characterization.model.{qb}.t2_echo_time"),
)
_WRITTEN_IMPLEMENTATIONS = {"prx": "drag_gaussian", "cz": "tgss", "move": "tgss_crf"}


def metric_observations(
    metrics: QualityMetrics, *, implementations: Mapping[str, str] | None = None
) -> list[tuple[str, float]]:
    """``metrics`` written back out as ``(name, value)`` observations, as a server names
    them (what the emulator serves and a snapshot stores); the inverse of
    :func:`metrics_from_observations`: reading the result back gives ``metrics`` again.

    Args:
        metrics: the figures; absent ones are not written.
        implementations: gate name (``prx``, ``cz``, ``move``, ``measure``) -> the
            implementation to name (the dynamic architecture's defaults); a gate not given
            gets a generic name (``measure`` -> ``constant``).
    """
    impl = {**_WRITTEN_IMPLEMENTATIONS, "measure": "constant", **(implementations or {})}
    out: list[tuple[str, float]] = []
    for qubit in sorted(metrics.qubits, key=_natural):
        quality = metrics.qubits[qubit]
        for attribute, pattern in _WRITTEN_QUBIT_FIELDS:
            value = getattr(quality, attribute)
            if value is not None:
                out.append((pattern.format(qb=qubit, **impl), value))
    for (a, b), value in sorted(metrics.cz_fidelity.items(), key=_natural_pair):
        out.append((f"metrics.irb.cz.{impl['cz']}.{a}__{b}.fidelity:par=d2", value))
    for (a, b), value in sorted(metrics.move_fidelity.items(), key=_natural_pair):
        name = f"metrics.irb.move.{impl['move']}.{a}__{b}.fidelity:n_interleaved_gates=2"
        out.append((name, value))
    return out


def _natural(name: str) -> tuple[str, int]:
    """``QB2`` before ``QB10``."""
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return stem, int(digits) if digits else -1


def _natural_pair(item: tuple[Pair, float]) -> tuple[tuple[str, int], tuple[str, int]]:
    return _natural(item[0][0]), _natural(item[0][1])
