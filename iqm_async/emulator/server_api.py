"""The IQM Server API v1 ("era F", iqm-client 33-36, IQM Resonance) route table.

It serves the same job store, simulator and queue model as the V1 routes of ``app.py``: a job
runs on the quantum computer its path names (``Emulator.devices``, each with its own QPU
queue), and job ids are unique across both APIs. ``GET jobs/{id}`` serves any job of the
store (one submitted on the V1 routes runs on the first quantum computer); the V1 routes
serve only that first computer's jobs. Replies are built by ``server_jobdata.py``.

Choices where SERVER_API.md leaves room:

- submit answers ``201`` with the JobData; ``use_timeslot`` is accepted and ignored (no
  timeslots are emulated); every refused definition is ``400``;
- artifacts of a job that is not ``completed`` are ``409``; cancelling a finished job is
  ``409``; cancel answers ``200`` with the JobData, delete ``204``;
- every error is ``{"message", "error_code", "source": "iqm-server", "detail"}``;
  ``detail`` is the deprecated echo of ``message`` that IQM servers still send;
- ``about`` and ``quantum-computers/{qc}/health`` stay open; everything else answers ``401``
  without a valid bearer token when auth is required.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from ._http import (
    UNAUTHORIZED_HEADERS,
    Route,
    auth_problem,
    emulator_of,
    json_response,
    raw_json,
)
from .core import Device, Emulator, JobRecord
from .queue import JobState
from .server_definition import definition_json, parse_definition, to_run_request
from .server_jobdata import error_body, job_data, static_architecture
from .validation import RequestRejected
from .wire import counts_of, measurements_json

__all__ = ["SERVER_API_ROUTES", "SERVER_VERSION"]

SERVER_VERSION = "1.0.0-emulated"
_SOFTWARE_VERSIONS = {"iqm-server": SERVER_VERSION, "iqm-station-control": SERVER_VERSION}

Handler = Callable[[Request], Awaitable[Response]]


def _error(
    status: int, message: str, code: str | None, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, error_body(message, code), headers)


def _refused(request: Request, em: Emulator) -> Response | None:
    """The 401 reply when auth is required and the bearer token is missing or bad."""
    problem = auth_problem(request, em)
    if problem is None:
        return None
    return _error(401, problem, "unauthorized", UNAUTHORIZED_HEADERS)


def _find_device(request: Request, em: Emulator) -> Device | Response:
    alias = request.path_params["qc"]
    device = em.devices.get(alias)
    if device is None:
        return _error(
            404,
            f"Quantum computer '{alias}' not found; this server has {', '.join(em.devices)}",
            "quantum_computer_not_found",
        )
    return device


def _qc_route(handler: Callable[[Emulator, Device, Request], Awaitable[Response]]) -> Handler:
    """An endpoint that checks auth, then finds the quantum computer the path names."""

    async def endpoint(request: Request) -> Response:
        em = emulator_of(request)
        if (denied := _refused(request, em)) is not None:
            return denied
        device = _find_device(request, em)
        if isinstance(device, Response):
            return device
        return await handler(em, device, request)

    # Not functools.wraps: FastAPI reads the endpoint's own signature (one Request).
    endpoint.__name__, endpoint.__doc__ = handler.__name__, handler.__doc__
    return endpoint


def _job_route(handler: Callable[[Emulator, JobRecord], Awaitable[Response]]) -> Handler:
    """An endpoint that checks auth, then finds the job the path names (401 before 404)."""

    async def endpoint(request: Request) -> Response:
        em = emulator_of(request)
        if (denied := _refused(request, em)) is not None:
            return denied
        job_id = request.path_params["job_id"]
        job = em.jobs.get(job_id)
        if job is None:
            return _error(404, f"Job '{job_id}' not found; check the job id", "job_not_found")
        return await handler(em, job)

    endpoint.__name__, endpoint.__doc__ = handler.__name__, handler.__doc__
    return endpoint


async def _job_data(em: Emulator, job: JobRecord) -> dict[str, object]:
    state = await em.observe(job)
    now = em.clock()
    return job_data(
        job_id=job.job_id,
        state=state,
        times=job.times,
        now=now,
        circuits=len(job.circuits),
        queue_position=lambda: job.device.queue.position(job.times, now),
        calibration_set_id=job.device.architecture.calibration_set_id,
        failure=job.message,
        iso=em.iso,
    )


# --- quantum computers and their architectures ------------------------------------------------


async def quantum_computers(request: Request) -> Response:
    """``{"quantum_computers": [{"id", "alias", "display_name"}]}``."""
    em = emulator_of(request)
    if (denied := _refused(request, em)) is not None:
        return denied
    listed = [
        {"id": d.id, "alias": d.alias, "display_name": d.display_name} for d in em.devices.values()
    ]
    return json_response(200, {"quantum_computers": listed})


def _unknown_calibration_set(device: Device, request: Request) -> Response | None:
    """A 404 unless the path's calibration set is ``default`` or the computer's UUID."""
    wanted = request.path_params["calset"]
    if wanted in ("default", device.architecture.calibration_set_id):
        return None
    return _error(
        404,
        f"Calibration set '{wanted}' of '{device.alias}' not found; use 'default' or "
        f"{device.architecture.calibration_set_id}",
        "calibration_set_not_found",
    )


async def dynamic_architecture(em: Emulator, device: Device, request: Request) -> Response:
    """The DQA of ``default`` or of the calibration set UUID (the V1 gates reply)."""
    arch = device.architecture
    if (missing := _unknown_calibration_set(device, request)) is not None:
        return missing
    return raw_json(arch.dqa_json)


async def quality_metrics(em: Emulator, device: Device, request: Request) -> Response:
    """The quality-metric set of ``default`` or of the calibration set UUID; 404 when the
    computer publishes none (``EmulatorConfig.metrics``)."""
    arch = device.architecture
    if (missing := _unknown_calibration_set(device, request)) is not None:
        return missing
    if device.metrics_reply is None:
        return _error(
            404,
            f"No quality metrics for calibration set {arch.calibration_set_id} of '{device.alias}'",
            "quality_metrics_not_found",
        )
    return raw_json(device.metrics_reply)


async def static_architectures(em: Emulator, device: Device, request: Request) -> Response:
    """A list with the one static quantum architecture of the computer."""
    return json_response(200, [static_architecture(device.alias, device.architecture.dqa)])


async def computer_about(em: Emulator, device: Device, request: Request) -> Response:
    """``{"version", "software_versions"}`` of the computer."""
    return json_response(
        200,
        {
            "version": SERVER_VERSION,
            "software_versions": _SOFTWARE_VERSIONS,
            "quantum_computer": device.alias,
        },
    )


async def about() -> Response:
    """What this server is."""
    return json_response(
        200,
        {
            "name": "iqm_async emulator",
            "version": SERVER_VERSION,
            "software_versions": _SOFTWARE_VERSIONS,
        },
    )


async def health(request: Request) -> Response:
    """Liveness of one computer (open, like V1's health)."""
    em = emulator_of(request)
    device = _find_device(request, em)
    if isinstance(device, Response):
        return device
    return json_response(200, {"status": "healthy", "quantum_computer": device.alias})


# --- jobs -------------------------------------------------------------------------------------


async def submit_circuits(em: Emulator, device: Device, request: Request) -> Response:
    """Submit a CircuitJobDefinition to the computer; answers ``201`` with the JobData."""
    body = await request.body()
    try:
        definition = parse_definition(body)
        job = em.create_job(
            to_run_request(definition),
            body,
            device,
            payload=definition.model_dump_json().encode(),
        )
    except RequestRejected as exc:
        return _error(400, exc.detail, "invalid_request")
    return json_response(201, await _job_data(em, job))


_submit = _qc_route(submit_circuits)


async def _submit_endpoint(request: Request, use_timeslot: bool = False) -> Response:
    """Submit circuits. ``use_timeslot`` is declared so that FastAPI checks it is a boolean
    (else 422); it is then ignored: no timeslots are emulated."""
    return await _submit(request)


async def get_job(em: Emulator, job: JobRecord) -> Response:
    """The JobData: status, queue position or progress, errors, timeline, artifacts."""
    return json_response(200, await _job_data(em, job))


async def get_payload(em: Emulator, job: JobRecord) -> Response:
    """The job's definition as submitted (V1 jobs: their request in the era-F form)."""
    return raw_json(job.payload if job.payload is not None else definition_json(job.request))


async def _completed(em: Emulator, job: JobRecord) -> Response | None:
    state = await em.observe(job)
    if state is JobState.READY and job.bits is not None:
        return None
    status = (await _job_data(em, job))["status"]
    return _error(
        409,
        f"Job '{job.job_id}' is {status}; its measurements exist once it is completed",
        "job_not_completed",
    )


async def get_measurements(em: Emulator, job: JobRecord) -> Response:
    """``[{key: [[bit, ...] per shot]} per circuit]`` of a completed job."""
    if (refusal := await _completed(em, job)) is not None:
        return refusal
    assert job.bits is not None  # checked by _completed
    return raw_json(measurements_json(job.bits))


async def get_measurement_counts(em: Emulator, job: JobRecord) -> Response:
    """``[{"measurement_keys", "counts"}]`` per circuit of a completed job."""
    if (refusal := await _completed(em, job)) is not None:
        return refusal
    assert job.bits is not None
    counts = [
        counts_of(circuit.measurement_keys, bits)
        for circuit, bits in zip(job.circuits, job.bits, strict=True)
    ]
    return raw_json(json.dumps(counts, separators=(",", ":")).encode())


async def cancel_job(em: Emulator, job: JobRecord) -> Response:
    """Cancel a waiting or processing job (200, the JobData); a finished one gives 409."""
    previous = em.abort(job)
    if previous.is_terminal:
        status = (await _job_data(em, job))["status"]
        return _error(
            409,
            f"Job '{job.job_id}' is already {status}; only waiting or processing jobs can "
            "be cancelled",
            "job_already_finished",
        )
    return json_response(200, await _job_data(em, job))


async def delete_job(em: Emulator, job: JobRecord) -> Response:
    """Delete a job and its data (204); later requests for it get 404."""
    em.delete(job)
    return Response(status_code=204)


_P = "/api/v1"
SERVER_API_ROUTES = (
    Route("GET", f"{_P}/quantum-computers", quantum_computers),
    Route(
        "GET",
        f"{_P}/calibration-sets/{{qc}}/{{calset}}/dynamic-quantum-architecture",
        _qc_route(dynamic_architecture),
    ),
    Route(
        "GET",
        f"{_P}/calibration-sets/{{qc}}/{{calset}}/metrics",
        _qc_route(quality_metrics),
    ),
    Route(
        "GET",
        f"{_P}/quantum-computers/{{qc}}/artifacts/static-quantum-architectures",
        _qc_route(static_architectures),
    ),
    Route("GET", f"{_P}/quantum-computers/{{qc}}/artifacts/about", _qc_route(computer_about)),
    Route("GET", f"{_P}/quantum-computers/{{qc}}/health", health),
    Route("GET", f"{_P}/about", about),
    Route("POST", f"{_P}/jobs/{{qc}}/circuit", _submit_endpoint, 201),
    Route("GET", f"{_P}/jobs/{{job_id}}", _job_route(get_job)),
    Route("GET", f"{_P}/jobs/{{job_id}}/payload", _job_route(get_payload)),
    Route("GET", f"{_P}/jobs/{{job_id}}/artifacts/measurements", _job_route(get_measurements)),
    Route(
        "GET",
        f"{_P}/jobs/{{job_id}}/artifacts/measurement_counts",
        _job_route(get_measurement_counts),
    ),
    Route("POST", f"{_P}/jobs/{{job_id}}/cancel", _job_route(cancel_job)),
    Route("DELETE", f"{_P}/jobs/{{job_id}}", _job_route(delete_job), 204),
)
"""The era-F routes, in matching order (added to the app after the V1 table)."""
