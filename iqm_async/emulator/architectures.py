"""The chips the emulator can pretend to be, loaded once at start-up (no per-request disk I/O).

Built in (JSON files in ``data/``, in the dynamic-architecture (DQA) format):

- ``garnet``: 20 qubits QB1..QB20 on IQM Garnet's square-lattice coupling map (30 cz pairs).
- ``star``: 5 qubits, QB3 in the centre coupled to QB1, QB2, QB4 and QB5.
- ``star-resonator``: 5 qubits around a computational resonator ``COMP_R`` (cz and move
  between each qubit and the resonator), for MOVE tests.
- ``deneb`` and ``sirius``: star chips of realistic size, 6 and 16 qubits QB1.. around the
  computational resonator ``CR1`` (cz and move on every (qubit, ``CR1``) pair), with
  quality metrics of the size real star chips publish (MOVE double-IRB 0.97-0.995, CZ with
  the resonator 0.975-0.996, prx 0.9985-0.9997, readout errors 1-5 %, T1 25-60 µs).

A file may also carry ``quality_metrics``, ``{metric name: value}`` in the server's metric
naming (``metrics.irb.move.crf_crf.QB1__CR1.fidelity:n_interleaved_gates=2``), served as
the chip's metrics (DQA readers ignore the extra key).

Any other value is a path to a JSON file in the DQA format. It may carry an extra
``readout_errors`` object, ``{qubit: [P(read 1 | 0), P(read 0 | 1)]}``, which the emulator
uses when readout noise is on (DQA readers ignore the extra key). The file may also be an
``iqm-async snapshot`` (``format: iqm-async-snapshot/1``): its dynamic architecture is served
under its ``quantum_computer`` name, and its quality metrics with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from itertools import permutations
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..models import DynamicQuantumArchitecture, Locus
from ..quality import QualityMetrics
from .metrics import SNAPSHOT_FORMAT, metrics_from_pairs, metrics_from_reply

__all__ = ["BUILTIN_ARCHITECTURES", "SYMMETRIC_GATES", "Architecture", "load_architecture"]

SYMMETRIC_GATES = frozenset({"cz"})
"""Gates whose locus may be given in either order."""

BUILTIN_ARCHITECTURES = {
    "garnet": "garnet.json",
    "star": "star.json",
    "star-resonator": "star_resonator.json",
    "deneb": "deneb.json",
    "sirius": "sirius.json",
}


@dataclass(frozen=True)
class Architecture:
    """One emulated chip: its DQA, readout-error figures, and the replies derived from them.

    Attributes:
        name: ``garnet``, ``star``, ``star-resonator`` or the JSON file's stem.
        dqa: the dynamic quantum architecture of the (single) calibration set.
        readout_errors: ``{qubit: (P(read 1 | 0), P(read 0 | 1))}``; empty if not given.
        dqa_json: the DQA reply body, serialised once.
        quantum_architecture_json: the old ``quantum-architecture`` reply, serialised once.
        metrics: the quality metrics the file carried (a snapshot's ``metrics``, or a
            built-in chip's ``quality_metrics``), else ``None``.
    """

    name: str
    dqa: DynamicQuantumArchitecture
    readout_errors: dict[str, tuple[float, float]]
    dqa_json: bytes
    quantum_architecture_json: bytes
    _loci_cache: dict[tuple[str, str | None], frozenset[Locus]] = field(
        default_factory=dict, compare=False, repr=False
    )
    metrics: QualityMetrics | None = None

    @cached_property
    def calibration_set_id(self) -> str:
        """The calibration set id as a string (a real UUID, as clients cache by it)."""
        return str(self.dqa.calibration_set_id)

    @cached_property
    def components(self) -> frozenset[str]:
        """Qubits and computational resonators."""
        return frozenset(self.dqa.qubits) | frozenset(self.dqa.computational_resonators)

    def allowed_loci(self, gate: str, implementation: str | None) -> frozenset[Locus]:
        """Calibrated loci of ``gate`` (of one implementation, or of all when ``None``),
        in both orders for symmetric gates. Computed once per pair: submit checks every
        instruction against it. The caller checks that gate and implementation exist."""
        key = (gate, implementation)
        cached = self._loci_cache.get(key)
        if cached is None:
            info = self.dqa.gates[gate]
            loci = (
                info.loci if implementation is None else info.implementations[implementation].loci
            )
            if gate in SYMMETRIC_GATES:
                cached = frozenset(p for locus in loci for p in permutations(locus))
            else:
                cached = frozenset(tuple(locus) for locus in loci)
            self._loci_cache[key] = cached
        return cached


def _old_quantum_architecture(name: str, dqa: DynamicQuantumArchitecture) -> dict[str, Any]:
    operations: dict[str, list[list[str]]] = {
        gate: [list(locus) for locus in dqa.loci(gate)] for gate in dqa.gates
    }
    operations["barrier"] = []
    return {
        "quantum_architecture": {
            "name": name,
            "operations": operations,
            "qubits": [*dqa.qubits, *dqa.computational_resonators],
            "qubit_connectivity": [list(pair) for pair in dqa.couplings],
        }
    }


def _from_json(name: str, raw: dict[str, Any]) -> Architecture:
    carried: dict[str, Any] | None = None
    if raw.get("format") == SNAPSHOT_FORMAT:
        name = str(raw.get("quantum_computer") or name)
        carried = raw.get("metrics")
        dqa_raw = raw.get("dynamic_quantum_architecture")
        if not isinstance(dqa_raw, dict):
            raise ValueError("the snapshot has no 'dynamic_quantum_architecture' object")
        raw = dict(dqa_raw)
    readout = {
        qubit: (float(pair[0]), float(pair[1]))
        for qubit, pair in (raw.pop("readout_errors", None) or {}).items()
    }
    named = raw.pop("quality_metrics", None) or {}
    dqa = DynamicQuantumArchitecture.model_validate(raw)
    metrics = (
        metrics_from_reply(carried, dqa)
        if carried
        else metrics_from_pairs(named.items(), dqa)
        if named
        else None
    )
    body = dqa.model_dump(mode="json")
    return Architecture(
        name=name,
        dqa=dqa,
        readout_errors=readout,
        dqa_json=json.dumps(body, separators=(",", ":")).encode(),
        quantum_architecture_json=json.dumps(
            _old_quantum_architecture(name, dqa), separators=(",", ":")
        ).encode(),
        metrics=metrics,
    )


def _read_builtin(file_name: str) -> str:
    return resources.files(__package__).joinpath("data").joinpath(file_name).read_text("utf-8")


# Read when this module is imported, so that building an app inside a running event loop (as
# in-process tests do) does no file I/O there. The five files hold about 25 kB.
_BUILTIN_TEXT = {name: _read_builtin(file) for name, file in BUILTIN_ARCHITECTURES.items()}
_loaded: dict[str, Architecture] = {}


def load_architecture(arch: str) -> Architecture:
    """Load a built-in architecture by name, or a DQA JSON file by path.

    Built-in architectures are parsed once per process and shared (they are immutable). A
    file is read on every call: build such apps outside the event loop.

    Raises:
        ConfigurationError: unknown name, unreadable file, or not a valid DQA.
    """
    builtin = _BUILTIN_TEXT.get(arch)
    try:
        if builtin is not None:
            if arch not in _loaded:
                _loaded[arch] = _from_json(arch, json.loads(builtin))
            return _loaded[arch]
        path = Path(arch)
        return _from_json(path.stem, json.loads(path.read_text("utf-8")))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"Unknown emulator architecture '{arch}': use one of "
            f"{', '.join(BUILTIN_ARCHITECTURES)} or the path of a DQA JSON file."
        ) from exc
    except (OSError, ValueError) as exc:  # json and pydantic errors are ValueErrors
        raise ConfigurationError(
            f"Cannot load emulator architecture from '{arch}': {exc}. The file must hold a "
            "dynamic quantum architecture (calibration_set_id, qubits, gates) or be an "
            "iqm-async snapshot."
        ) from exc
