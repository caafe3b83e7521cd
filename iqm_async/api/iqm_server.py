"""The IQM Server API v1 (SERVER_API.md): what IQM Resonance and current IQM servers speak.

Routes, below the server's root URL (every path starts ``api/v1/``)::

    GET    quantum-computers                                           the quantum computers
    POST   jobs/{qc}/circuit?use_timeslot=false                        submit -> JobData
    GET    jobs/{id}                                                   JobData (the poll)
    GET    jobs/{id}/artifacts/measurements                            per circuit: key -> shots
    GET    jobs/{id}/artifacts/measurement_counts                      per circuit: histogram
    POST   jobs/{id}/cancel                                            cancel
    DELETE jobs/{id}                                                   delete
    GET    calibration-sets/{qc}/{id or default}/dynamic-quantum-architecture
    GET    quantum-computers/{qc}/artifacts/static-quantum-architectures
    GET    calibration-sets/{qc}/{id or default}/metrics               quality-metric-set

Status words: ``waiting`` is queued (with ``queue_position``), ``processing`` running (with
``execution.progress``), ``completed``, ``failed`` (why: ``errors``) and ``cancelled``; a word
this version does not know reads as running. Angles go out in radians (``angle``, ``phase``),
qubits as ``locus``; results come from the measurements artifact, read into arrays by the same
byte reader as V1's; counts are counted from them (no second request).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx

from ..errors import ConfigurationError, InvalidResponseError
from ..metadata import RequestEcho
from ..models import (
    Circuit,
    DynamicQuantumArchitecture,
    Metadata,
    QuantumArchitectureSpecification,
)
from ..quality import QualityMetrics, metrics_from_observations
from ..results import CircuitCounts, JobPhase, JobResult, JobStatus
from ..transport import Route, ServerErrorText, server_message, shown_text
from ._base import ServerAPI, parse_reply
from ._v1_measurements import split_measurements
from .cocos import (
    RUN_OPTIONS,
    CocosV1,
    build_run_request,
    check_shot_counts,
    measurement_arrays_of,
)
from .iqm_server_wire import (
    ErrorBody,
    JobData,
    JobDefinitionEcho,
    MeasurementCounts,
    Measurements,
    QualityMetricSet,
    QuantumComputer,
    QuantumComputers,
    StaticArchitectures,
)

__all__ = [
    "QUANTUM_COMPUTERS_ROUTE",
    "IQMServerV1",
    "read_metric_set",
    "read_quantum_computers",
]

QUANTUM_COMPUTERS_ROUTE = Route("GET", "api/v1/quantum-computers", "quantum-computers")
"""The route that lists a server's quantum computers (also how a client tells an IQM Server
from a CoCoS server: only the former answers it)."""

_PHASES = {
    "waiting": JobPhase.QUEUED,
    "processing": JobPhase.RUNNING,
    "completed": JobPhase.COMPLETED,
    "failed": JobPhase.FAILED,
    "cancelled": JobPhase.CANCELLED,
}

# This API's names for options V1 calls otherwise (the old names are accepted too).
_OPTION_RENAMES = {
    "move_gate_validation": "move_validation_mode",
    "move_gate_frame_tracking": "move_gate_frame_tracking_mode",
}
_NOT_IN_THIS_API = frozenset({"custom_settings", "circuit_duration_check"})
RUN_OPTIONS_SERVER = (RUN_OPTIONS - _NOT_IN_THIS_API) | frozenset(_OPTION_RENAMES)
_TURN = 2 * math.pi


def read_quantum_computers(reply: httpx.Response) -> list[QuantumComputer]:
    """The reply of :data:`QUANTUM_COMPUTERS_ROUTE`."""
    return parse_reply(reply, QuantumComputers, "list of quantum computers").quantum_computers


def job_status(job: JobData) -> JobStatus:
    """A JobData as a :class:`JobStatus` (an unknown word reads as running)."""
    phase = _PHASES.get(job.status, JobPhase.RUNNING)
    progress = None
    if phase is JobPhase.RUNNING and job.execution is not None and job.execution.progress:
        done = sum(p.value for p in job.execution.progress.values())
        total = sum(p.max_value for p in job.execution.progress.values())
        progress = done / total if total > 0 else None
    errors = "; ".join(
        ": ".join(part for part in (e.source, e.error_code, e.text) if part) for e in job.errors
    )
    return JobStatus(
        phase=phase,
        raw=job.status,
        message=errors or None,
        queue_position=job.queue_position if phase is JobPhase.QUEUED else None,
        progress=progress,
        warnings=tuple(m.message for m in job.messages),
        calibration_set_id=job.compilation.calibration_set_id if job.compilation else None,
    )


class IQMServerV1(ServerAPI):
    """The IQM Server API v1, for one quantum computer of the server.

    Args:
        quantum_computer: the quantum computer's alias (e.g. ``"garnet"``).
        use_timeslot: submit into the quantum computer's reserved timeslot (default False).
    """

    name = "iqm-server"
    counts_from_measurements = True
    password_login = False

    def __init__(self, quantum_computer: str, *, use_timeslot: bool = False) -> None:
        if not isinstance(quantum_computer, str) or not quantum_computer.strip():
            raise ConfigurationError(
                f"quantum_computer must be a quantum computer's alias such as 'garnet', got "
                f"{quantum_computer!r}"
            )
        if "/" in quantum_computer or "?" in quantum_computer:
            raise ConfigurationError(
                f"quantum_computer must be an alias such as 'garnet', not a path: "
                f"{quantum_computer!r}"
            )
        self.quantum_computer = quantum_computer.strip()
        self.use_timeslot = bool(use_timeslot)

    def __repr__(self) -> str:
        return f"IQMServerV1(quantum_computer={self.quantum_computer!r})"

    # --- routes -------------------------------------------------------------------------------

    def submit_route(self) -> Route:
        timeslot = "true" if self.use_timeslot else "false"
        path = f"api/v1/jobs/{self.quantum_computer}/circuit?use_timeslot={timeslot}"
        return Route("POST", path, "submit")

    def status_route(self, job_id: str) -> Route:
        return Route("GET", f"api/v1/jobs/{job_id}", "status")

    def result_route(self, job_id: str, status: JobStatus) -> Route | None:
        if status.phase is JobPhase.COMPLETED:
            return Route("GET", f"api/v1/jobs/{job_id}/artifacts/measurements", "result")
        return None  # a failed job's errors and a cancellation are in the status already

    def counts_route(self, job_id: str) -> Route:
        return Route("GET", f"api/v1/jobs/{job_id}/artifacts/measurement_counts", "counts")

    def metadata_route(self, job_id: str) -> Route | None:
        return Route("GET", f"api/v1/jobs/{job_id}/payload", "metadata")

    def cancel_route(self, job_id: str) -> Route:
        return Route("POST", f"api/v1/jobs/{job_id}/cancel", "abort")

    def delete_route(self, job_id: str) -> Route:
        return Route("DELETE", f"api/v1/jobs/{job_id}", "delete")

    def architecture_route(self) -> Route:
        qc = self.quantum_computer
        path = f"api/v1/quantum-computers/{qc}/artifacts/static-quantum-architectures"
        return Route("GET", path, "architecture")

    def dynamic_architecture_route(self, calibration_set: str) -> Route:
        qc = self.quantum_computer
        path = f"api/v1/calibration-sets/{qc}/{calibration_set}/dynamic-quantum-architecture"
        return Route("GET", path, "architecture")

    def quality_metrics_route(self, calibration_set: str) -> Route | None:
        """The quality-metric set of one calibration set of this quantum computer."""
        qc = self.quantum_computer
        return Route("GET", f"api/v1/calibration-sets/{qc}/{calibration_set}/metrics", "metrics")

    def read_quality_metrics(
        self, reply: httpx.Response, *, default_implementations: Mapping[str, str] | None = None
    ) -> QualityMetrics:
        return read_metric_set(reply, default_implementations=default_implementations)

    # --- requests -----------------------------------------------------------------------------

    @property
    def run_options(self) -> frozenset[str]:
        return RUN_OPTIONS_SERVER

    def encode_run(
        self,
        circuits: Circuit | Sequence[Circuit],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
        options: Mapping[str, Any],
    ) -> bytes:
        unknown = sorted(set(options) - RUN_OPTIONS_SERVER)
        if unknown:
            raise ConfigurationError(
                f"Unknown submit option(s) {unknown} for the IQM Server API; the options are "
                f"{sorted(RUN_OPTIONS_SERVER)}."
            )
        renamed = {_OPTION_RENAMES.get(key, key): value for key, value in options.items()}
        # The V1 model checks every input the same way; only the wire form differs.
        request = build_run_request(
            circuits,
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
            options=renamed,
        )
        return _definition(json.loads(request.to_wire_json()))

    def encode_run_json(
        self,
        circuits_json: Sequence[str],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
    ) -> bytes:
        # Checked and written as V1 does (the circuits are trusted, as there), then rewritten.
        v1 = _V1.encode_run_json(
            circuits_json,
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
        )
        return _definition(json.loads(v1))

    # --- replies ------------------------------------------------------------------------------

    def read_job_id(self, reply: httpx.Response) -> str:
        return str(_submitted_job(reply).id)

    def read_submitted(self, reply: httpx.Response) -> tuple[str, JobStatus | None]:
        # The submit reply is the whole job object: its status spares the first poll.
        job = _submitted_job(reply)
        return str(job.id), job_status(job)

    def read_status(self, reply: httpx.Response) -> JobStatus:
        return job_status(parse_reply(reply, JobData, "job status"))

    def read_result(
        self, job_id: str, reply: httpx.Response, status: JobStatus | None = None
    ) -> JobResult | JobStatus:
        final = status or JobStatus(JobPhase.COMPLETED, "completed")
        # The artifact is the bare list V1 keeps under "measurements": the same reader takes it.
        split = split_measurements(b'{"measurements":' + reply.content + b"}")
        if split is not None:
            arrays = check_shot_counts(job_id, split[1])
        else:
            lists = parse_reply(reply, Measurements, "measurements").root
            arrays = measurement_arrays_of(job_id, lists)
        return JobResult(job_id, final, arrays, metadata=None)  # see metadata_route

    def read_metadata(self, job_id: str, reply: httpx.Response, status: JobStatus) -> Metadata:
        # The payload is the job definition: the request echo V1 puts into its metadata,
        # in this API's words (locus, radians, move_gate_*), read back into V1's.
        payload = parse_reply(reply, JobDefinitionEcho, "job payload")
        echo = RequestEcho.model_validate(
            payload.model_dump(exclude={"move_gate_validation", "move_gate_frame_tracking"})
            | {
                "circuits": [
                    {**c.model_dump(), "instructions": [_v1_instruction(i) for i in c.instructions]}
                    for c in payload.circuits
                ],
                # This API's names first; the deprecated V1 names are echoes of them.
                "move_validation_mode": payload.move_gate_validation
                or payload.move_validation_mode,
                "move_gate_frame_tracking_mode": payload.move_gate_frame_tracking
                or payload.move_gate_frame_tracking_mode,
            }
        )
        return Metadata(
            calibration_set_id=status.calibration_set_id or echo.calibration_set_id,
            request=echo,
        )

    def read_counts(self, job_id: str, reply: httpx.Response) -> list[CircuitCounts]:
        entries = parse_reply(reply, MeasurementCounts, "measurement counts").root
        return [CircuitCounts(tuple(e.measurement_keys), dict(e.counts)) for e in entries]

    def read_architecture(self, reply: httpx.Response) -> QuantumArchitectureSpecification:
        found = parse_reply(reply, StaticArchitectures, "static quantum architecture").root
        if not found:
            raise InvalidResponseError(
                f"The server lists no static architecture for {self.quantum_computer}.",
                url=str(reply.request.url),
            )
        sqa = found[0]
        return QuantumArchitectureSpecification(
            name=sqa.dut_label or self.quantum_computer,
            operations={},
            qubits=sqa.qubits,
            qubit_connectivity=sqa.connectivity,
        )

    def read_dynamic_architecture(self, reply: httpx.Response) -> DynamicQuantumArchitecture:
        return parse_reply(reply, DynamicQuantumArchitecture, "dynamic quantum architecture")

    def error_text(self, reply: httpx.Response) -> str | ServerErrorText:
        try:
            body = ErrorBody.model_validate_json(reply.content)
        except ValueError:
            return server_message(reply)
        if not body.text:
            return server_message(reply)
        return ServerErrorText(shown_text(reply, body.text), body.error_code, body.source)


_V1 = CocosV1()


def read_metric_set(
    reply: httpx.Response, *, default_implementations: Mapping[str, str] | None = None
) -> QualityMetrics:
    """A ``quality-metric-set`` reply as :class:`QualityMetrics`.

    An observation marked ``invalid``, without a string ``dut_field``, or whose ``value`` is
    not a JSON number (servers send numbers; a string stays a string there) is absent; a set
    marked ``invalid`` has no figures at all. A reply without an ``observations`` list is an
    :class:`InvalidResponseError`.
    """
    found = parse_reply(reply, QualityMetricSet, "quality metrics")
    pairs = [] if found.invalid else _valid_observations(found.observations)
    return metrics_from_observations(
        pairs,
        calibration_set_id=found.describes_id,
        default_implementations=default_implementations,
    )


def _valid_observations(observations: Sequence[Any]) -> list[tuple[str, object]]:
    return [
        (entry["dut_field"], entry.get("value"))
        for entry in observations
        if isinstance(entry, dict)
        and isinstance(entry.get("dut_field"), str)
        and entry.get("invalid", False) is False
    ]


def _submitted_job(reply: httpx.Response) -> JobData:
    """A submit reply's job object, which must be a circuit job."""
    job = parse_reply(reply, JobData, "submit reply")
    if job.type not in (None, "circuit"):
        raise InvalidResponseError(
            f"The submit reply from {reply.request.url} is a '{job.type}' job, not a circuit job",
            url=str(reply.request.url),
        )
    return job


def _instruction(inst: Mapping[str, Any]) -> dict[str, Any]:
    """A V1 instruction (qubits, angles in turns) as this API's (locus, radians)."""
    name = {"phased_rx": "prx", "measurement": "measure"}.get(inst["name"], inst["name"])
    args = dict(inst.get("args") or {})
    if "angle_t" in args:
        args["angle"] = float(args.pop("angle_t")) * _TURN
    if "phase_t" in args:
        args["phase"] = float(args.pop("phase_t")) * _TURN
    return {
        "name": name,
        "locus": list(inst["qubits"]),
        "args": args,
        "implementation": inst.get("implementation"),
    }


def _v1_instruction(inst: Mapping[str, Any]) -> dict[str, Any]:
    """This API's instruction (locus, radians) as V1's (qubits, angles in turns): the inverse
    of :func:`_instruction`. Read tolerantly: what is not a number is left as echoed."""
    args = dict(inst.get("args") or {})
    for name, v1_name in (("angle", "angle_t"), ("phase", "phase_t")):
        value = args.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            args[v1_name] = float(args.pop(name)) / _TURN
    v1 = {k: v for k, v in inst.items() if k != "locus"} | {"args": args}
    if "locus" in inst:
        v1["qubits"] = inst["locus"]
    return v1


def _definition(v1: Mapping[str, Any]) -> bytes:
    """A checked V1 run request (as JSON-ready fields) as this API's circuit job definition:
    every field, nulls included, in the order IQM's own client sends them."""
    validation = v1.get("move_validation_mode", "strict")
    frame_tracking = v1.get("move_gate_frame_tracking_mode", "full")
    body = {
        "circuits": [
            {
                "name": c["name"],
                "instructions": [_instruction(i) for i in c["instructions"]],
                "metadata": c.get("metadata"),
            }
            for c in v1["circuits"]
        ],
        "calibration_set_id": v1.get("calibration_set_id"),
        "qubit_mapping": v1.get("qubit_mapping"),
        "shots": v1["shots"],
        "max_circuit_duration_over_t2": v1.get("max_circuit_duration_over_t2"),
        "heralding_mode": v1.get("heralding_mode", "none"),
        "move_gate_validation": validation,
        "move_gate_frame_tracking": frame_tracking,
        "active_reset_cycles": v1.get("active_reset_cycles"),
        "dd_mode": v1.get("dd_mode", "disabled"),
        "dd_strategy": v1.get("dd_strategy"),
        # Deprecated echoes of the two renamed fields, which IQM's own client still sends.
        "move_validation_mode": validation,
        "move_gate_frame_tracking_mode": frame_tracking,
    }
    return json.dumps(body, separators=(",", ":")).encode()
