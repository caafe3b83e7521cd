"""What a job is and what it gave, in words that do not depend on the server's API.

Every server API variant (:mod:`iqm_async.api`) reads its replies into these types, and
everything above the variants (the poller, :class:`~iqm_async.jobs.Job`, the pytket backend,
the CLI) sees only them:

- :class:`JobPhase`: queued, running, completed, failed or cancelled;
- :class:`JobStatus`: the phase, with the server's own status word, its message, and the
  queue position and progress where the API reports them;
- :class:`JobResult`: a finished job's measurements as ``shots x bits`` arrays (Python lists
  built only when asked for), its metadata (parsed on first use) and the server's warnings;
- :class:`CircuitCounts`: the histogram of one circuit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, auto
from uuid import UUID

import numpy as np
import numpy.typing as npt

from .models import Metadata

__all__ = [
    "CircuitCounts",
    "JobPhase",
    "JobResult",
    "JobStatus",
    "MeasurementArrays",
    "MeasurementLists",
    "counts_from_arrays",
]

MeasurementArrays = list[dict[str, npt.NDArray[np.uint8]]]
"""One dict per circuit of a job: measurement key -> ``shots x bits`` uint8 array."""

MeasurementLists = list[dict[str, list[list[int]]]]
"""The same as lists: ``measurements[circuit][key][shot][i]`` is the i-th bit of a shot."""


class JobPhase(Enum):
    """Where a job is, in the SDK's own vocabulary (each API maps its status words here).

    ``str(phase)`` is its lower-case name, e.g. ``"queued"``.
    """

    QUEUED = auto()
    """Accepted and waiting (in the server's queue, or being prepared for the QPU)."""
    RUNNING = auto()
    """Being compiled or executed; also any status word this version does not know."""
    COMPLETED = auto()
    """Finished with results."""
    FAILED = auto()
    """Finished without results; the status message says why."""
    CANCELLED = auto()
    """Cancelled (aborted) or deleted before it produced results."""

    def __str__(self) -> str:
        return self.name.lower()

    @property
    def is_terminal(self) -> bool:
        """True once the job can change no more (completed, failed or cancelled)."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobPhase.COMPLETED, JobPhase.FAILED, JobPhase.CANCELLED})


@dataclass(frozen=True)
class JobStatus:
    """A job's status as one API reported it.

    Attributes:
        phase: the neutral phase.
        raw: the server's own status word, as it sent it (for messages).
        message: the server's message (why a job failed, ...), if any.
        queue_position: jobs ahead of it in the server's queue (0 = next), where the API
            reports it.
        progress: fraction of the job done, from 0 to 1, where the API reports it.
        warnings: warnings the server attached to the job.
        calibration_set_id: the calibration set the job runs with, where the API reports it.
    """

    phase: JobPhase
    raw: str
    message: str | None = None
    queue_position: int | None = None
    progress: float | None = None
    warnings: tuple[str, ...] = ()
    calibration_set_id: UUID | None = None

    @property
    def done(self) -> bool:
        """True when :attr:`phase` is terminal."""
        return self.phase.is_terminal


@dataclass(frozen=True)
class CircuitCounts:
    """The histogram of one circuit: bitstrings concatenate the keys in ``measurement_keys``
    order, each key's bits in its locus order."""

    measurement_keys: tuple[str, ...]
    counts: Mapping[str, int] = field(default_factory=dict)


class JobResult:
    """A finished job's result, whatever the API it came from.

    Measurements are held as arrays (:attr:`measurement_arrays`); :attr:`measurements` builds
    the Python lists once, when first read. The metadata is parsed on first read too, since it
    is mostly the echo of every circuit, which a caller that wants the bits never reads.

    Attributes:
        job_id: the job it belongs to.
        status: the job's final status (phase :attr:`JobPhase.COMPLETED`).
        measurement_arrays: per circuit, measurement key -> ``shots x bits`` uint8 array.
        warnings: the server's warnings on the result.
    """

    __slots__ = ("_lists", "_load_metadata", "_metadata", "job_id", "measurement_arrays", "status")

    def __init__(
        self,
        job_id: str,
        status: JobStatus,
        measurement_arrays: MeasurementArrays,
        *,
        metadata: Metadata | Callable[[], Metadata] | None,
    ) -> None:
        self.job_id = job_id
        self.status = status
        self.measurement_arrays = measurement_arrays
        self._lists: MeasurementLists | None = None
        self._metadata: Metadata | None = None
        self._load_metadata: Callable[[], Metadata] | None = None
        if isinstance(metadata, Metadata):
            self._metadata = metadata
        elif metadata is not None:
            self._load_metadata = metadata

    def __repr__(self) -> str:
        return f"JobResult(job_id={self.job_id!r}, circuits={len(self.measurement_arrays)})"

    @property
    def warnings(self) -> tuple[str, ...]:
        """The server's warnings on the job."""
        return self.status.warnings

    @property
    def measurements(self) -> MeasurementLists:
        """The measurements as lists: ``measurements[circuit][key][shot][i]``, built once."""
        if self._lists is None:
            self._lists = [
                {key: bits.tolist() for key, bits in circuit.items()}
                for circuit in self.measurement_arrays
            ]
        return self._lists

    @property
    def metadata(self) -> Metadata:
        """The job's metadata (request echo, calibration set, timestamps), parsed once.

        Raises:
            InvalidResponseError: the server's metadata is not what its API says.
            LookupError: the server's API sends the metadata apart from the result; read it
                with ``await job.metadata()``, which fetches it once.
        """
        if self._metadata is None:
            if self._load_metadata is None:
                raise LookupError(
                    f"The metadata of job {self.job_id} is fetched on its own: use "
                    "`await job.metadata()`."
                )
            self._metadata = self._load_metadata()
            self._load_metadata = None
        return self._metadata

    @property
    def has_metadata(self) -> bool:
        """True when :attr:`metadata` needs no request (it came with the result)."""
        return self._metadata is not None or self._load_metadata is not None

    def keep_metadata(self, metadata: Metadata) -> None:
        """Keep metadata fetched apart from the result."""
        self._metadata, self._load_metadata = metadata, None


def counts_from_arrays(arrays: MeasurementArrays) -> list[CircuitCounts]:
    """One histogram per circuit from its measurements (no I/O): each shot's bits of every
    key concatenated in the keys' order, each key's bits in its locus order."""
    histograms = []
    for circuit in arrays:
        keys = tuple(circuit)
        if not keys:
            histograms.append(CircuitCounts(keys, {}))
            continue
        shots = np.concatenate([circuit[key] for key in keys], axis=1)
        rows, tallies = np.unique(shots, axis=0, return_counts=True)
        counts = {"".join(map(str, row)): int(n) for row, n in zip(rows, tallies, strict=True)}
        histograms.append(CircuitCounts(keys, counts))
    return histograms
