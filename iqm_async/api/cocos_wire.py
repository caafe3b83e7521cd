"""Pydantic models of the V1 "CoCoS" job replies (PROTOCOL.md sections 2.3-2.5).

Tolerant, as every response model: unknown fields are ignored and a status word this version
does not know reads as :attr:`Status.UNKNOWN`, so a server upgrade never breaks a client.
Only the V1 variant (:mod:`iqm_async.api.cocos`) reads them.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from ..metadata import Metadata
from ..models import QuantumArchitectureSpecification, ResponseModel

__all__ = [
    "CalibrationMetrics",
    "Counts",
    "MeasurementsBatch",
    "QuantumArchitecture",
    "RunCounts",
    "RunResult",
    "RunStatus",
    "Status",
]


class Status(str, Enum):
    """Every V1 job status string; a string not listed here reads as :attr:`UNKNOWN`."""

    PENDING = "pending"
    RECEIVED = "received"
    PROCESSING = "processing"
    ACCEPTED = "accepted"
    PENDING_COMPILATION = "pending compilation"
    PENDING_EXECUTION = "pending execution"
    COMPILED = "compiled"
    READY = "ready"
    FAILED = "failed"
    ABORTED = "aborted"
    PENDING_DELETION = "pending deletion"
    DELETION_FAILED = "deletion failed"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> Status:
        return cls.UNKNOWN


MeasurementsBatch = list[dict[str, list[list[int]]]]


class RunStatus(ResponseModel):
    """Reply of ``GET jobs/{id}/status``."""

    status: Status
    message: str | None = None
    warnings: list[str] | None = None


class RunResult(ResponseModel):
    """Reply of ``GET jobs/{id}``: status, and when ready the measurements of every circuit.

    ``measurements[circuit][key][shot][i]`` is the bit measured on the i-th qubit of the
    ``measure`` labelled ``key``.
    """

    status: Status
    measurements: MeasurementsBatch | None = None
    message: str | None = None
    metadata: Metadata
    warnings: list[str] | None = None


class Counts(ResponseModel):
    """Histogram of one circuit: bitstrings concatenated in ``measurement_keys`` order."""

    measurement_keys: list[str]
    counts: dict[str, int]


class RunCounts(ResponseModel):
    """Reply of ``GET jobs/{id}/counts``; ``counts_batch`` is absent until the job is done."""

    status: Status
    counts_batch: list[Counts] | None = None


class QuantumArchitecture(ResponseModel):
    """Reply of ``GET quantum-architecture``."""

    quantum_architecture: QuantumArchitectureSpecification


class CalibrationMetrics(ResponseModel):
    """Reply of ``GET calibration/metrics/{id}``: ``metrics`` maps each name to
    ``{"value", "unit", "uncertainty", "timestamp"}``, values as strings. Entries stay raw: a
    malformed one is skipped by the reader."""

    calibration_set_id: UUID | None = None
    calibration_set_is_invalid: bool = False
    quality_metric_set_is_invalid: bool = False
    metrics: dict[str, Any]
