"""The V1 "CoCoS" jobs API (PROTOCOL.md sections 1.2 and 2): what iqm-client 22.x speaks.

Routes, relative to the server URL (which may have a device path, ``https://host/garnet``)::

    POST jobs                              submit a RunRequest -> {"id": uuid}
    GET  jobs/{id}/status                  RunStatus (what the poller sends)
    GET  jobs/{id}                         RunResult: status, measurements, metadata, warnings
    GET  jobs/{id}/counts                  RunCounts
    POST jobs/{id}/abort                   cancel
    DELETE jobs/{id}                       delete
    GET  quantum-architecture              {"quantum_architecture": {...}}
    GET  api/v1/calibration/{id}/gates     the dynamic architecture of a calibration set
    GET  calibration/metrics/{id}          quality metrics: {"metrics": {name: {"value"}}}

Its status words and what they mean here (terminal in iqm-client 22.16: ``ready``,
``failed``, ``aborted``, ``deleted``, ``deletion failed``; ``pending deletion`` ends a wait
too: a job being deleted gives no results):

=========================================================================  ===========
``pending``, ``received``, ``accepted``, ``pending compilation``           queued
``processing``, ``compiled``, ``pending execution``, anything unknown      running
``ready``                                                                  completed
``failed``, ``deletion failed``                                            failed
``aborted``, ``pending deletion``, ``deleted``                             cancelled
=========================================================================  ===========
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx
import numpy as np
from pydantic import ValidationError

from ..errors import CircuitValidationError, ConfigurationError, InvalidResponseError
from ..metadata import Metadata, SingleQubitMapping, mapping_to_wire
from ..models import (
    MEASURE_NAMES,
    Circuit,
    DynamicQuantumArchitecture,
    QuantumArchitectureSpecification,
    RunRequest,
)
from ..quality import QualityMetrics, metrics_from_observations
from ..results import CircuitCounts, JobPhase, JobResult, JobStatus, MeasurementArrays
from ..transport import Route, json_or_none, shown_text
from ._base import ServerAPI, check_uuid, parse_reply, validation_problems
from ._v1_measurements import split_measurements, split_metadata
from .cocos_wire import (
    CalibrationMetrics,
    MeasurementsBatch,
    QuantumArchitecture,
    RunCounts,
    RunResult,
    RunStatus,
    Status,
)

__all__ = [
    "RUN_OPTIONS",
    "CocosV1",
    "build_run_request",
    "check_batch_measurements",
    "read_calibration_metrics",
]

_SET_BY_SUBMIT = frozenset({"circuits", "shots", "qubit_mapping", "calibration_set_id"})
RUN_OPTIONS = frozenset(RunRequest.model_fields) - _SET_BY_SUBMIT
"""Keyword options ``AsyncIQMClient.submit`` accepts besides its named arguments (V1)."""

_PHASES = {
    Status.PENDING: JobPhase.QUEUED,
    Status.RECEIVED: JobPhase.QUEUED,
    Status.ACCEPTED: JobPhase.QUEUED,
    Status.PENDING_COMPILATION: JobPhase.QUEUED,
    Status.PROCESSING: JobPhase.RUNNING,
    Status.COMPILED: JobPhase.RUNNING,
    Status.PENDING_EXECUTION: JobPhase.RUNNING,
    Status.READY: JobPhase.COMPLETED,
    Status.FAILED: JobPhase.FAILED,
    Status.DELETION_FAILED: JobPhase.FAILED,
    Status.ABORTED: JobPhase.CANCELLED,
    Status.PENDING_DELETION: JobPhase.CANCELLED,
    Status.DELETED: JobPhase.CANCELLED,
}


def job_status(status: Status, raw: str, message: str | None, warnings: Sequence[str]) -> JobStatus:
    """A V1 status word as a :class:`JobStatus` (an unknown word reads as running)."""
    return JobStatus(
        phase=_PHASES.get(status, JobPhase.RUNNING),
        raw=raw,
        message=message,
        warnings=tuple(warnings),
    )


class CocosV1(ServerAPI):
    """The V1 "CoCoS" jobs API of iqm-client 22.x and pytket-iqm 0.18 (see the module's
    docstring for its routes and status words)."""

    name = "cocos"

    # --- routes -------------------------------------------------------------------------------

    def submit_route(self) -> Route:
        return Route("POST", "jobs", "submit")

    def status_route(self, job_id: str) -> Route:
        return Route("GET", f"jobs/{job_id}/status", "status")

    def result_route(self, job_id: str, status: JobStatus) -> Route | None:
        # A failed job's full result carries the server's message; a cancelled one has none.
        if status.phase is JobPhase.CANCELLED:
            return None
        return Route("GET", f"jobs/{job_id}", "result")

    def counts_route(self, job_id: str) -> Route:
        return Route("GET", f"jobs/{job_id}/counts", "counts")

    def cancel_route(self, job_id: str) -> Route:
        return Route("POST", f"jobs/{job_id}/abort", "abort")

    def delete_route(self, job_id: str) -> Route:
        return Route("DELETE", f"jobs/{job_id}", "delete")

    def architecture_route(self) -> Route:
        return Route("GET", "quantum-architecture", "architecture")

    def dynamic_architecture_route(self, calibration_set: str) -> Route:
        return Route("GET", f"api/v1/calibration/{calibration_set}/gates", "architecture")

    def quality_metrics_route(self, calibration_set: str) -> Route | None:
        """The quality metrics of one calibration set (V1 servers of iqm-client 22)."""
        return Route("GET", f"calibration/metrics/{calibration_set}", "metrics")

    def read_quality_metrics(
        self, reply: httpx.Response, *, default_implementations: Mapping[str, str] | None = None
    ) -> QualityMetrics:
        return read_calibration_metrics(reply, default_implementations=default_implementations)

    # --- requests -----------------------------------------------------------------------------

    @property
    def run_options(self) -> frozenset[str]:
        return RUN_OPTIONS

    def encode_run(
        self,
        circuits: Circuit | Sequence[Circuit],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
        options: Mapping[str, Any],
    ) -> bytes:
        request = build_run_request(
            circuits,
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
            options=options,
        )
        return request.to_wire_json()

    def encode_run_json(
        self,
        circuits_json: Sequence[str],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
    ) -> bytes:
        _check_shots(shots)
        if not circuits_json:
            raise CircuitValidationError("Nothing to run: give at least one circuit.")
        # Every field but the circuits is written by the model, as build_run_request does.
        fields: dict[str, Any] = {"circuits": [], "shots": shots}
        fields.update(_mapping_fields(qubit_mapping, calibration_set_id))
        others = RunRequest.model_construct(**fields).to_wire()
        del others["circuits"]
        circuits = ",".join(circuits_json)
        return f'{{"circuits":[{circuits}],{json.dumps(others, separators=(",", ":"))[1:]}'.encode()

    # --- replies ------------------------------------------------------------------------------

    def read_job_id(self, reply: httpx.Response) -> str:
        body = json_or_none(reply)
        job_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(job_id, str):
            try:
                return str(UUID(job_id))
            except ValueError:
                pass
        url = str(reply.request.url)
        got = shown_text(reply, reply.text.strip(), 80)
        raise InvalidResponseError(
            f"The submit reply from {url} has no job id (expected {{'id': '<uuid>'}}, got "
            f"{got!r}). The job may exist: check your recent jobs on the server before "
            "submitting again.",
            url=url,
        )

    def read_status(self, reply: httpx.Response) -> JobStatus:
        status = parse_reply(reply, RunStatus, "job status")
        return job_status(
            status.status, _raw_status(reply, status.status), status.message, status.warnings or ()
        )

    def read_result(
        self, job_id: str, reply: httpx.Response, status: JobStatus | None = None
    ) -> JobResult | JobStatus:
        # Measurements are read straight into arrays and the metadata left as JSON when the
        # body has the usual form: no Python list per shot, no models for the circuit echo.
        content = reply.content
        split = split_measurements(content)
        arrays: MeasurementArrays | None = None
        if split is not None:
            content, arrays = split
        cut = split_metadata(content)
        metadata_json: bytes | None = None
        if cut is not None:
            content, metadata_json = cut
        result = parse_reply(reply, RunResult, "job result", content=content)
        if arrays is not None and result.measurements is not None:
            # A second "measurements" key (invalid JSON, but parsers take the last): read it all.
            result, arrays, metadata_json = parse_reply(reply, RunResult, "job result"), None, None
        status = job_status(
            result.status, result.status.value, result.message, result.warnings or ()
        )
        if status.phase is not JobPhase.COMPLETED:
            return status
        if arrays is None:
            if result.measurements is None:
                raise InvalidResponseError(
                    f"The result of job {job_id} says 'ready' but has no measurements. Check "
                    "that the URL points at a supported IQM server version.",
                    url=str(reply.request.url),
                )
            arrays = measurement_arrays_of(job_id, result.measurements)
        if metadata_json is None:
            return JobResult(job_id, status, arrays, metadata=result.metadata)
        return JobResult(job_id, status, arrays, metadata=_metadata_loader(job_id, metadata_json))

    def read_counts(self, job_id: str, reply: httpx.Response) -> list[CircuitCounts]:
        counts = parse_reply(reply, RunCounts, "job counts")
        if counts.counts_batch is None:
            raise InvalidResponseError(
                f"The counts of job {job_id} are missing (status '{counts.status.value}') "
                "although the job has finished. Check that the URL points at a supported IQM "
                "server version.",
                url=str(reply.request.url),
            )
        return [
            CircuitCounts(tuple(c.measurement_keys), dict(c.counts)) for c in counts.counts_batch
        ]

    def read_architecture(self, reply: httpx.Response) -> QuantumArchitectureSpecification:
        return parse_reply(reply, QuantumArchitecture, "quantum architecture").quantum_architecture

    def read_dynamic_architecture(self, reply: httpx.Response) -> DynamicQuantumArchitecture:
        return parse_reply(reply, DynamicQuantumArchitecture, "dynamic quantum architecture")


def read_calibration_metrics(
    reply: httpx.Response, *, default_implementations: Mapping[str, str] | None = None
) -> QualityMetrics:
    """A V1 ``calibration/metrics/{id}`` reply as :class:`QualityMetrics`.

    Values come as strings (``"0.9987"``); one that is not a number (``"None"``, ``"nan"``)
    or an entry that is not an object is absent; a set marked invalid has no figures. A
    reply without a ``metrics`` object is an :class:`InvalidResponseError`.
    """
    found = parse_reply(reply, CalibrationMetrics, "quality metrics")
    invalid = found.calibration_set_is_invalid or found.quality_metric_set_is_invalid
    pairs = [
        (name, _number(entry.get("value")))
        for name, entry in found.metrics.items()
        if not invalid and isinstance(entry, dict)
    ]
    return metrics_from_observations(
        pairs,
        calibration_set_id=found.calibration_set_id,
        default_implementations=default_implementations,
    )


def _number(value: object) -> object:
    """A V1 figure as a float; anything that does not read as one is left for the model to
    drop (it keeps only finite numbers in range)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def _raw_status(reply: httpx.Response, status: Status) -> str:
    """The server's own word for a status (``Status.UNKNOWN`` hides an unknown word)."""
    if status is not Status.UNKNOWN:
        return str(status.value)
    body = json_or_none(reply)
    word: object = body.get("status") if isinstance(body, dict) else None
    return word if isinstance(word, str) else str(status.value)


def _metadata_loader(job_id: str, metadata_json: bytes) -> Callable[[], Metadata]:
    def load() -> Metadata:
        try:
            return Metadata.model_validate_json(metadata_json)
        except ValidationError as exc:
            raise InvalidResponseError(
                f"Job {job_id}: the metadata of its result is not what the IQM protocol says "
                f"({validation_problems(exc)}). Check that the URL points at a supported IQM "
                "server version."
            ) from None

    return load


def measurement_arrays_of(job_id: str, measurements: MeasurementsBatch) -> MeasurementArrays:
    """Measurements parsed as lists, as ``shots x qubits`` uint8 arrays (no I/O).

    Raises:
        InvalidResponseError: a key whose shots are not lists of 0/1 bits of one width.
    """
    batch: MeasurementArrays = []
    for index, circuit in enumerate(measurements):
        arrays = {}
        for key, shots in circuit.items():
            try:
                bits = np.asarray(shots, dtype=np.int64)
            except ValueError:
                bits = np.empty(0, dtype=np.int64)  # ragged: refused below
            if bits.ndim != 2 or (bits.size and (bits.min() < 0 or bits.max() > 1)):
                raise InvalidResponseError(
                    f"Job {job_id}: measurement '{key}' of circuit {index} is not a list of "
                    "shots of 0/1 bits of equal length."
                )
            arrays[key] = bits.astype(np.uint8)
        batch.append(arrays)
    return batch


# --- run requests (no I/O) --------------------------------------------------------------------


def build_run_request(
    circuits: Circuit | Sequence[Circuit],
    *,
    shots: int,
    qubit_mapping: Mapping[str, str] | None = None,
    calibration_set_id: UUID | str | None = None,
    options: Mapping[str, Any] | None = None,
) -> RunRequest:
    """Validate a submission and build its :class:`~iqm_async.models.RunRequest` (no I/O).

    Raises:
        ConfigurationError: bad shots, unknown option, bad mapping or calibration set id.
        CircuitValidationError: a circuit that is not a valid :class:`Circuit` (or is a
            pytket circuit), or a batch whose circuits measure different qubits.
    """
    _check_shots(shots)
    _check_not_foreign(circuits, "circuits")
    batch = [circuits] if isinstance(circuits, Circuit | Mapping) else list(circuits)
    if not batch:
        raise CircuitValidationError("Nothing to run: give at least one circuit.")
    parsed: list[Circuit] = []
    for index, circuit in enumerate(batch):
        if isinstance(circuit, Circuit):
            parsed.append(circuit)
            continue
        _check_not_foreign(circuit, f"Circuit {index}")
        try:
            parsed.append(Circuit.model_validate(circuit))
        except ValidationError as exc:
            raise CircuitValidationError(f"Circuit {index} is invalid: {_summary(exc)}") from None
    check_batch_measurements(parsed)
    unknown = sorted(set(options or {}) - RUN_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"Unknown submit option(s) {unknown}; the options are {sorted(RUN_OPTIONS)}."
        )
    fields: dict[str, Any] = dict(options or {})
    fields.update(circuits=parsed, shots=shots)
    fields.update(_mapping_fields(qubit_mapping, calibration_set_id))
    try:
        return RunRequest.model_validate(fields)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid submission: {_summary(exc)}") from None


def _check_shots(shots: object) -> None:
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}")


def _mapping_fields(
    qubit_mapping: Mapping[str, str] | None, calibration_set_id: UUID | str | None
) -> dict[str, Any]:
    """The qubit mapping and calibration set fields of a request, checked (only those given)."""
    fields: dict[str, Any] = {}
    if qubit_mapping is not None:
        fields["qubit_mapping"] = _mapping_to_wire(qubit_mapping)
    if calibration_set_id is not None:
        fields["calibration_set_id"] = check_uuid(calibration_set_id, "calibration_set_id")
    return fields


def _check_not_foreign(value: object, what: str) -> None:
    """Refuse a pytket circuit or a string early, with the fix (they would iterate oddly)."""
    if isinstance(value, str | bytes):
        raise CircuitValidationError(
            f"{what} is a {type(value).__name__}, not a circuit; give an iqm_async.models.Circuit "
            "(or a dict of its fields), or a list of them."
        )
    if type(value).__module__.startswith("pytket"):
        raise CircuitValidationError(
            f"{what} is a pytket {type(value).__name__}; AsyncIQMClient takes "
            "iqm_async.models.Circuit. Use IQMBackend for pytket circuits, or translate a "
            "compiled one with iqm_async.compiler.to_iqm_circuit()."
        )


def check_batch_measurements(circuits: Sequence[Circuit]) -> None:
    """Refuse a batch whose circuits measure different qubits (no I/O).

    IQM servers run a batch only when every circuit measures the same qubits; otherwise the
    job fails after waiting in the queue. One qubit mapping covers the whole batch, so
    comparing names before mapping is the same as comparing physical qubits.

    Raises:
        CircuitValidationError: naming the first circuit that differs from circuit 0.
    """
    first: frozenset[str] | None = None
    for index, circuit in enumerate(circuits):
        measured = frozenset(
            q for inst in circuit.instructions if inst.name in MEASURE_NAMES for q in inst.qubits
        )
        if first is None:
            first = measured
        elif measured != first:
            raise CircuitValidationError(
                f"Circuit {index} ('{circuit.name}') measures qubits {sorted(measured)} but "
                f"circuit 0 measures {sorted(first)}; all circuits of one job must measure the "
                "same qubits. Submit circuits that measure different qubits as separate jobs."
            )


def _mapping_to_wire(mapping: object) -> list[SingleQubitMapping]:
    """``qubit_mapping`` checked and in wire form; a :class:`ConfigurationError` if malformed."""
    if not isinstance(mapping, Mapping):
        raise ConfigurationError(
            f"qubit_mapping must be a dict {{logical name: physical name}} such as "
            f"{{'q0': 'QB1'}}, got a {type(mapping).__name__}."
        )
    for logical, physical in mapping.items():
        if not (isinstance(logical, str) and isinstance(physical, str) and logical and physical):
            raise ConfigurationError(
                f"qubit_mapping entry {logical!r}: {physical!r} is not a pair of qubit names; "
                "map non-empty names to non-empty names, e.g. {'q0': 'QB1'}."
            )
    return mapping_to_wire(mapping)


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
