"""Pydantic models of the IQM Server API v1 replies (SERVER_API.md section 4).

Tolerant, as every response model: unknown fields are ignored and a status word this version
does not know is kept as a string (the variant reads it as running). Only
:mod:`iqm_async.api.iqm_server` reads them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field, RootModel

from ..metadata import MoveGateFrameTrackingMode, MoveGateValidationMode, RequestEcho
from ..models import Count, MeasurementBit, ResponseModel

__all__ = [
    "ErrorBody",
    "JobData",
    "JobDefinitionEcho",
    "MeasurementCounts",
    "Measurements",
    "QualityMetricSet",
    "QuantumComputer",
    "QuantumComputers",
    "StaticArchitecture",
    "StaticArchitectures",
]


class ErrorBody(ResponseModel):
    """An IQM Server error (an error reply's body, or one entry of ``JobData.errors``)."""

    message: str | None = None
    detail: str | None = None
    error_code: str | None = None
    source: str | None = None

    @property
    def text(self) -> str:
        """The message (``detail`` is its deprecated echo)."""
        return self.message or self.detail or ""


class SourcedMessage(ResponseModel):
    """One entry of ``JobData.messages``: an informational message from a component."""

    source: str | None = None
    message: str


class Progress(ResponseModel):
    """One progress counter of a running job."""

    value: int
    max_value: int


class Execution(ResponseModel):
    """What a running job reports about its execution."""

    progress: dict[str, Progress] = Field(default_factory=dict)


class Compilation(ResponseModel):
    """What compilation decided (the calibration set it used)."""

    calibration_set_id: UUID | None = None


class JobData(ResponseModel):
    """The job object: the reply to a submit and to ``GET jobs/{id}``."""

    id: UUID
    type: str | None = None
    status: str
    queue_position: int | None = None
    execution: Execution | None = None
    compilation: Compilation | None = None
    messages: list[SourcedMessage] = Field(default_factory=list)
    errors: list[ErrorBody] = Field(default_factory=list)
    timeline: list[dict[str, Any]] = Field(default_factory=list)


class QuantumComputer(ResponseModel):
    """One quantum computer a server offers."""

    id: UUID
    alias: str
    display_name: str | None = None


class QuantumComputers(ResponseModel):
    """The reply listing the quantum computers."""

    quantum_computers: list[QuantumComputer]


class StaticArchitecture(ResponseModel):
    """A static quantum architecture: the chip's qubits and couplings."""

    dut_label: str | None = None
    qubits: list[str]
    computational_resonators: list[str] = Field(default_factory=list)
    connectivity: list[list[str]]


class Measurements(RootModel[list[dict[str, list[list[MeasurementBit]]]]]):
    """The measurements artifact: per circuit, key -> shots x bits."""


class CountsEntry(ResponseModel):
    """One circuit of the measurement counts artifact."""

    measurement_keys: list[str]
    counts: dict[str, Count]


class MeasurementCounts(RootModel[list[CountsEntry]]):
    """The measurement counts artifact: one entry per circuit."""


class StaticArchitectures(RootModel[list[StaticArchitecture]]):
    """The static architectures artifact (the client uses element 0)."""


class QualityMetricSet(ResponseModel):
    """``GET calibration-sets/{qc}/{id}/metrics``: a ``quality-metric-set`` observation set.

    ``observations`` stay raw: one malformed entry is skipped by the reader, not a reason to
    refuse the whole set (see :func:`iqm_async.api.iqm_server.read_metric_set`)."""

    observation_set_type: str | None = None
    describes_id: UUID | None = None
    invalid: bool = False
    observations: list[Any]


class JobDefinitionEcho(RequestEcho):
    """``GET jobs/{id}/payload``: the circuit job definition as submitted, in this API's
    words: instructions with ``locus`` and angles in radians (kept raw here), and the MOVE
    modes as ``move_gate_validation`` / ``move_gate_frame_tracking``."""

    move_gate_validation: MoveGateValidationMode | None = None
    move_gate_frame_tracking: MoveGateFrameTrackingMode | None = None
