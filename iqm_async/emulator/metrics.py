"""The quality metrics an emulated chip publishes: generated from a seed or loaded from a file,
and written as the two servers' replies (no I/O once built).

Generated figures follow the patterns of real Garnet-class chips (``QUALITY_METRICS.md``
section 5): quality is heterogeneous and correlated (about one qubit in ten is weak: short T1
and T2, worse prx, and its couplers are the chip's worst), ``e10 >= e01`` on most qubits,
``T2 <= T2 echo <= 2 T1`` always, and about one coupler in ten (on chips with ten or more)
has no CZ figure at all, as on real servers. A chip whose architecture file gives readout
errors keeps them. The same seed and chip name give the same figures.

Files: the IQM Server API v1 reply (a ``quality-metric-set`` with ``observations``), the V1
reply (``metrics: {name: {"value": "0.99", ...}}``) or an ``iqm-async snapshot`` file.
"""

from __future__ import annotations

import json
import math
import uuid
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..models import DynamicQuantumArchitecture
from ..quality import QualityMetrics, QubitQuality, metric_observations, metrics_from_observations

__all__ = [
    "SNAPSHOT_FORMAT",
    "generate_metrics",
    "load_metrics",
    "metrics_from_reply",
    "observation_set",
    "v1_metrics_reply",
]

SNAPSHOT_FORMAT = "iqm-async-snapshot/1"
"""The ``format`` field of a file ``iqm-async snapshot`` writes."""

_WEAK_FACTOR = 8.0  # how much worse a weak qubit is than a typical one
_MISSING_CZ_EVERY = 10  # one coupler in this many publishes no CZ figure


def _sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant figures (files stay readable)."""
    return float(f"{value:.{digits}g}")


def generate_metrics(
    dqa: DynamicQuantumArchitecture,
    *,
    seed: int,
    name: str,
    readout_errors: Mapping[str, tuple[float, float]] | None = None,
) -> QualityMetrics:
    """Plausible, heterogeneous figures for every qubit and coupler of ``dqa``.

    Args:
        dqa: the chip and its calibration set (the metrics describe that set).
        seed: with ``name``, fixes every figure.
        name: the chip's name, so two chips of one emulator differ.
        readout_errors: ``{qubit: (e01, e10)}`` to publish instead of generated ones.
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(name.encode())])
    qubits = list(dqa.qubits)
    n_weak = max(1, round(len(qubits) / 10)) if qubits else 0
    weak = {str(q) for q in rng.choice(qubits, size=n_weak, replace=False)} if n_weak else set()
    # One latent "badness" per qubit drives all of its figures, so they correlate.
    badness = {
        q: float(rng.lognormal(0.0, 0.3)) * (_WEAK_FACTOR if q in weak else 1.0) for q in qubits
    }
    fixed_readout = readout_errors or {}
    per_qubit: dict[str, QubitQuality] = {}
    for q in qubits:
        bad = badness[q]
        t1 = min(max(55e-6 / bad**0.7 * float(rng.lognormal(0.0, 0.15)), 5e-6), 150e-6)
        t2 = t1 * float(rng.uniform(0.12, 0.6)) / (3.0 if q in weak else 1.0)
        t2_echo = min(2.0 * t1, t2 * float(rng.uniform(1.5, 3.0)))
        prx_error = min(4e-4 * bad * float(rng.lognormal(0.0, 0.25)), 0.05)
        if q in fixed_readout:
            e01, e10 = fixed_readout[q]
        else:
            e01 = min(0.012 * bad**0.6 * float(rng.lognormal(0.0, 0.3)), 0.2)
            e10 = min(e01 * float(rng.lognormal(math.log(1.35), 0.3)), 0.25)
        per_qubit[q] = QubitQuality(
            prx_fidelity=round(1.0 - prx_error, 6),
            readout_error_0_to_1=round(e01, 5),
            readout_error_1_to_0=round(e10, 5),
            readout_fidelity=round(1.0 - (e01 + e10) / 2, 5),
            t1_s=_sig(t1),
            t2_s=_sig(t2),
            t2_echo_s=_sig(t2_echo),
        )
    cz: dict[tuple[str, str], float] = {}
    loci = [tuple(locus) for locus in dqa.loci("cz")] if "cz" in dqa.gates else []
    missing: set[int] = set()
    if len(loci) >= _MISSING_CZ_EVERY:
        count = len(loci) // _MISSING_CZ_EVERY
        missing = {int(i) for i in rng.choice(len(loci), size=count, replace=False)}
    for index, locus in enumerate(loci):
        # A resonator has no badness of its own; a weak qubit drags its couplers down.
        factor = math.prod(badness.get(c, 1.0) for c in locus) ** 0.8
        error = min(3.5e-3 * factor * float(rng.lognormal(0.0, 0.3)), 0.1)
        if index not in missing and len(locus) == 2:
            cz[(locus[0], locus[1])] = round(1.0 - error, 6)
    move: dict[tuple[str, str], float] = {}
    for locus in dqa.loci("move") if "move" in dqa.gates else []:
        if len(locus) == 2:
            error = min(0.015 * badness.get(locus[0], 1.0) * float(rng.lognormal(0.0, 0.2)), 0.3)
            move[(locus[0], locus[1])] = round(1.0 - error, 6)
    return QualityMetrics(
        calibration_set_id=dqa.calibration_set_id,
        qubits=per_qubit,
        cz_fidelity=cz,
        move_fidelity=move,
    )


def _implementations(dqa: DynamicQuantumArchitecture) -> dict[str, str]:
    return {gate: info.default_implementation for gate, info in dqa.gates.items()}


def observation_set(
    metrics: QualityMetrics, dqa: DynamicQuantumArchitecture, *, name: str, timestamp: str
) -> dict[str, Any]:
    """The IQM Server API v1 reply (a ``quality-metric-set``) for ``metrics``, naming the
    figures after ``dqa``'s default implementations. Values are JSON numbers, as servers
    send them. ``timestamp`` is an ISO-8601 time without zone (the servers' style)."""
    calset = str(dqa.calibration_set_id)
    observations = [
        {
            "observation_id": index,
            "dut_field": field,
            "value": value,
            "unit": "s" if field.startswith("characterization.") else "",
            "uncertainty": None,
            "invalid": False,
            "created_timestamp": timestamp,
            "modified_timestamp": timestamp,
        }
        for index, (field, value) in enumerate(
            metric_observations(metrics, implementations=_implementations(dqa)), start=1
        )
    ]
    return {
        "observation_set_type": "quality-metric-set",
        "observation_set_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"iqm-emulator:{calset}")),
        "describes_id": calset,
        "dut_label": f"emulated-{name}",
        "invalid": False,
        "created_timestamp": timestamp + "Z",
        "end_timestamp": timestamp + "Z",
        "calibration_set": None,
        "observation_ids": None,
        "observations": observations,
    }


def v1_metrics_reply(era_f: Mapping[str, Any]) -> dict[str, Any]:
    """The V1 ``calibration/metrics/{id}`` reply holding the same figures as the IQM Server
    API reply ``era_f`` (values and uncertainties as strings, as V1 servers write them)."""
    stamp = era_f["created_timestamp"]
    label = era_f["dut_label"]
    return {
        "calibration_set_id": era_f["describes_id"],
        "calibration_set_dut_label": label,
        "calibration_set_number_of_observations": len(era_f["observations"]),
        "calibration_set_created_timestamp": stamp,
        "calibration_set_end_timestamp": stamp,
        "calibration_set_is_invalid": False,
        "quality_metric_set_id": era_f["observation_set_id"],
        "quality_metric_set_dut_label": label,
        "quality_metric_set_created_timestamp": stamp,
        "quality_metric_set_end_timestamp": stamp,
        "quality_metric_set_is_invalid": False,
        "metrics": {
            obs["dut_field"]: {
                "value": str(obs["value"]),
                "unit": obs["unit"],
                "uncertainty": str(obs["uncertainty"]),
                "timestamp": obs["created_timestamp"],
            }
            for obs in era_f["observations"]
        },
    }


def _number(value: object) -> object:
    """V1 replies send numbers as strings; other values pass unchanged (and are dropped later
    if they are not numbers)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _pairs(body: Mapping[str, Any]) -> Iterable[tuple[str, object]]:
    observations = body.get("observations")
    if isinstance(observations, list):
        for obs in observations:
            if isinstance(obs, dict) and not obs.get("invalid", False):
                yield str(obs.get("dut_field")), obs.get("value")
        return
    table = body.get("metrics")
    if isinstance(table, dict):
        for field, entry in table.items():
            if isinstance(entry, dict):
                yield field, _number(entry.get("value"))
        return
    raise ValueError("no 'observations' list (IQM Server API) or 'metrics' object (V1)")


def metrics_from_reply(body: Mapping[str, Any], dqa: DynamicQuantumArchitecture) -> QualityMetrics:
    """Read either server's metrics reply (or a snapshot's ``metrics``) for ``dqa``'s
    calibration set, preferring its default implementations' figures.

    Raises:
        ValueError: ``body`` holds neither reply shape.
    """
    return metrics_from_pairs(_pairs(body), dqa)


def metrics_from_pairs(
    pairs: Iterable[tuple[str, object]], dqa: DynamicQuantumArchitecture
) -> QualityMetrics:
    """``(metric name, value)`` pairs as ``dqa``'s calibration set's metrics, preferring its
    default implementations' figures."""
    return metrics_from_observations(
        pairs,
        calibration_set_id=dqa.calibration_set_id,
        default_implementations=_implementations(dqa),
    )


def load_metrics(path: str, dqa: DynamicQuantumArchitecture) -> QualityMetrics:
    """Load a metrics file for ``dqa``: either server's reply or an ``iqm-async snapshot``.

    Raises:
        ConfigurationError: unreadable file or neither shape.
    """
    try:
        body = json.loads(Path(path).read_text("utf-8"))
        if not isinstance(body, dict):
            raise ValueError("the file holds no JSON object")
        if body.get("format") == SNAPSHOT_FORMAT:
            body = body.get("metrics") or {"observations": []}
        return metrics_from_reply(body, dqa)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"Cannot load emulator metrics from '{path}': {exc}. The file must hold a "
            "quality-metric-set reply (with 'observations'), a V1 metrics reply (with "
            "'metrics') or an iqm-async snapshot."
        ) from exc
