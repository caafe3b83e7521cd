"""The emulator's HTTP face: the V1 routes of PROTOCOL.md at the server root, and the IQM
Server API v1 routes of ``server_api.py`` under ``/api/v1`` (one job store for both).

Handlers take the bare ``Request`` and return prebuilt JSON ``Response`` objects: no
per-request pydantic response validation, so the emulator stays far faster than the clients
it is used to measure. Choices where PROTOCOL.md leaves room:

- submit answers ``201`` with ``{"id": ...}``; every refused request (bad JSON, schema errors,
  limits, anything the chip cannot run) is ``400 {"detail": "<field>: <problem>"}``;
- abort of a job that already ended is ``409 {"detail": ...}`` (only 200 means success to
  iqm-client); unknown jobs and calibration sets are ``404 {"detail": ...}``;
- a missing, bad or expired bearer token (with ``require_auth``) is ``401 {"detail": ...}``
  with ``WWW-Authenticate: Bearer`` on job and architecture routes; health, about,
  client-libraries, the auth server and ``/_emulator/*`` stay open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs
from uuid import UUID

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from ._http import (
    UNAUTHORIZED_HEADERS,
    Route,
    auth_problem,
    emulator_of,
    json_response,
    raw_json,
)
from .architectures import Architecture
from .config import EmulatorConfig
from .core import COCOS_VERSION, Emulator, JobRecord
from .middleware import EmulatorMiddleware
from .server_api import SERVER_API_ROUTES
from .server_jobdata import error_body, is_server_api_path
from .tokens import AuthFailure
from .validation import RequestRejected

__all__ = ["CLIENT_LIBRARIES", "create_app"]

TOKEN_PATH = "/realms/cortex/protocol/openid-connect/token"
LOGOUT_PATH = "/realms/cortex/protocol/openid-connect/logout"

CLIENT_LIBRARIES: dict[str, dict[str, str]] = {
    "iqm-client": {
        "name": "IQM Client",
        "package_name": "iqm-client",
        "repo_url": "https://github.com/iqm-finland/iqm-client",
        "package_url": "https://pypi.org/project/iqm-client/",
        "min": "20.0",
        "max": "23.0",
    },
}
"""Versions the emulator declares compatible: iqm-client 22.x raises no warning."""


def _detail(status: int, detail: str) -> Response:
    return json_response(status, {"detail": detail})


def _form(body: bytes) -> dict[str, str]:
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _refused(request: Request, em: Emulator) -> Response | None:
    """The 401 reply when auth is required and the bearer token is missing or bad."""
    problem = auth_problem(request, em)
    if problem is None:
        return None
    return json_response(401, {"detail": problem}, UNAUTHORIZED_HEADERS)


def _find_job(request: Request, em: Emulator) -> JobRecord | Response:
    """The job the path names, or the reply refusing it (401 before 404)."""
    if (denied := _refused(request, em)) is not None:
        return denied
    job_id = request.path_params["job_id"]
    job = em.jobs.get(job_id)
    if job is None or job.device is not em.device:  # another computer's job is not ours
        return _detail(404, f"Job '{job_id}' not found; check the job id")
    return job


def _job_route(
    handler: Callable[[Emulator, JobRecord], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that finds the job the path names (or refuses: 401 before 404), then
    hands it to ``handler``."""

    async def endpoint(request: Request) -> Response:
        em = emulator_of(request)
        job = _find_job(request, em)
        if isinstance(job, Response):
            return job
        return await handler(em, job)

    # Not functools.wraps: FastAPI reads the endpoint's own signature (one Request).
    endpoint.__name__, endpoint.__doc__ = handler.__name__, handler.__doc__
    return endpoint


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's own request validation errors as ``422 {"detail": "<field>: <problem>"}``
    (era-F paths: an IQMServerError body, as iqm-client 36 needs a string ``message``)."""
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    if is_server_api_path(request.url.path):
        return json_response(422, error_body("; ".join(parts), "validation_error"))
    return _detail(422, "; ".join(parts))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown path 404, wrong method 405); on era-F paths with an
    IQMServerError body."""
    assert isinstance(exc, StarletteHTTPException)
    if not is_server_api_path(request.url.path):
        return await http_exception_handler(request, exc)
    return json_response(
        exc.status_code, error_body(str(exc.detail), "http_error"), dict(exc.headers or {})
    )


# Every handler is a module-level function that finds its emulator in ``request.app.state``.
# FastAPI caches per-endpoint data keyed by the endpoint function for the whole process, so a
# handler closing over an emulator would keep every app ever created (and its jobs) alive.


async def submit_job(request: Request) -> Response:
    """Submit a batch of circuits (a RunRequest); answers ``{"id": job_id}``."""
    em = emulator_of(request)
    if (denied := _refused(request, em)) is not None:
        return denied
    body = await request.body()
    try:
        job = em.submit(body)
    except RequestRejected as exc:
        return _detail(400, exc.detail)
    return json_response(201, {"id": job.job_id})


async def get_job(em: Emulator, job: JobRecord) -> Response:
    """The full result: status, measurements when ready, message, metadata."""
    if job.final_body is not None:
        return raw_json(job.final_body)
    status = await em.observe(job)
    body = em.result_json(job, status)
    if status.is_terminal:
        job.final_body = body  # a finished job's reply never changes
    return raw_json(body)


async def get_job_status(em: Emulator, job: JobRecord) -> Response:
    """``{"status", "message", "warnings"}``."""
    status = await em.observe(job)
    message = job.message if status.value == "failed" else None
    return json_response(200, {"status": status.value, "message": message, "warnings": None})


async def get_job_counts(em: Emulator, job: JobRecord) -> Response:
    """``{"status", "counts_batch"}``; ``counts_batch`` only once the job is ready."""
    status = await em.observe(job)
    return json_response(200, em.counts_body(job, status))


async def abort_job(em: Emulator, job: JobRecord) -> Response:
    """Abort a pending job (200); a job that already ended gives 409."""
    previous = em.abort(job)
    if previous.is_terminal:
        return _detail(
            409,
            f"Job '{job.job_id}' is already '{previous.value}'; only pending jobs can be aborted",
        )
    return json_response(200, {})


async def delete_job(em: Emulator, job: JobRecord) -> Response:
    """Delete a job and its data (200); later requests for it get 404."""
    em.delete(job)
    return json_response(200, {})


async def quantum_architecture(request: Request) -> Response:
    """The old quantum architecture (``{"quantum_architecture": {...}}``)."""
    em = emulator_of(request)
    if (denied := _refused(request, em)) is not None:
        return denied
    return raw_json(em.architecture.quantum_architecture_json)


def _unknown_calibration_set(
    request: Request, arch: Architecture, aliases: tuple[str, ...]
) -> Response | None:
    """A 404 unless the path's calibration set is one of ``aliases`` or the chip's UUID."""
    wanted = request.path_params["calibration_set_id"]
    if wanted in aliases:
        return None
    try:
        if UUID(wanted) == arch.dqa.calibration_set_id:
            return None
    except ValueError:
        pass
    return _detail(
        404, f"Calibration set '{wanted}' not found; use 'default' or {arch.calibration_set_id}"
    )


async def calibrated_gates(request: Request) -> Response:
    """The dynamic quantum architecture of ``default`` or of a calibration set UUID."""
    em = emulator_of(request)
    if (denied := _refused(request, em)) is not None:
        return denied
    arch = em.architecture
    if (missing := _unknown_calibration_set(request, arch, ("default",))) is not None:
        return missing
    return raw_json(arch.dqa_json)


async def quality_metrics(request: Request) -> Response:
    """The quality metrics of ``default``, ``latest`` or a calibration set UUID, in the V1
    shape (values as strings); 404 when the chip publishes none."""
    em = emulator_of(request)
    if (denied := _refused(request, em)) is not None:
        return denied
    arch = em.architecture
    if (missing := _unknown_calibration_set(request, arch, ("default", "latest"))) is not None:
        return missing
    if em.device.metrics_reply_v1 is None:
        return _detail(404, f"No quality metrics for calibration set {arch.calibration_set_id}")
    return raw_json(em.device.metrics_reply_v1)


async def client_libraries() -> Response:
    """Client versions this server supports."""
    return json_response(200, CLIENT_LIBRARIES)


async def health() -> Response:
    """Liveness."""
    return json_response(200, {"status": "ok"})


async def about(request: Request) -> Response:
    """What this server is."""
    arch = emulator_of(request).architecture
    return json_response(
        200,
        {
            "name": "iqm_async emulator",
            "cocos_version": COCOS_VERSION,
            "architecture": arch.name,
            "calibration_set_id": arch.calibration_set_id,
            "iqm_server": False,
        },
    )


async def token(request: Request) -> Response:
    """OIDC token endpoint: ``password`` and ``refresh_token`` grants, form-encoded."""
    em = emulator_of(request)
    form = _form(await request.body())
    grant = form.get("grant_type", "")
    em.counters.token_requests[grant or "missing"] += 1
    try:
        _, reply = em.tokens.token(form)
    except AuthFailure as exc:
        return json_response(exc.status, exc.body())
    return json_response(200, reply, {"Cache-Control": "no-store"})


async def logout(request: Request) -> Response:
    """End the session of a refresh token (204)."""
    em = emulator_of(request)
    form = _form(await request.body())
    em.counters.logouts += 1
    try:
        em.tokens.logout(form)
    except AuthFailure as exc:
        return json_response(exc.status, exc.body())
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    """Request, response, job, token and fault counters (never counted themselves)."""
    return json_response(200, emulator_of(request).stats())


async def reset_stats(request: Request) -> Response:
    """Zero the counters; the job store is kept."""
    em = emulator_of(request)
    em.reset_stats()
    return json_response(200, em.stats())


_ROUTES = (
    Route("POST", "/jobs", submit_job, 201),
    Route("GET", "/jobs/{job_id}", _job_route(get_job)),
    Route("GET", "/jobs/{job_id}/status", _job_route(get_job_status)),
    Route("GET", "/jobs/{job_id}/counts", _job_route(get_job_counts)),
    Route("POST", "/jobs/{job_id}/abort", _job_route(abort_job)),
    Route("DELETE", "/jobs/{job_id}", _job_route(delete_job)),
    Route("GET", "/quantum-architecture", quantum_architecture),
    Route("GET", "/api/v1/calibration/{calibration_set_id}/gates", calibrated_gates),
    Route("GET", "/calibration/metrics/{calibration_set_id}", quality_metrics),
    Route("GET", "/info/client-libraries", client_libraries),
    Route("GET", "/health", health),
    Route("GET", "/about", about),
    Route("POST", TOKEN_PATH, token),
    Route("POST", LOGOUT_PATH, logout),
    Route("GET", "/_emulator/stats", stats),
    Route("POST", "/_emulator/reset-stats", reset_stats),
)
"""Every route of the emulator, in matching order."""


class _EmulatorApp(FastAPI):
    """FastAPI with :class:`EmulatorMiddleware` outside everything else."""

    def build_middleware_stack(self) -> ASGIApp:
        return EmulatorMiddleware(
            super().build_middleware_stack(), self.state.emulator, self.router.routes
        )


def create_app(
    config: EmulatorConfig | None = None, *, emulator: Emulator | None = None
) -> FastAPI:
    """The emulator as a bare ASGI app (FastAPI), ready for uvicorn or ``httpx.ASGITransport``.

    No lifespan events are needed: everything is set up here, so in-process tests just work.
    ``app.state.emulator`` is the :class:`Emulator` (``stats()``, ``reset_stats()``,
    ``job_record(job_id)``, ``config``). Nothing outside the app refers to the emulator, so
    both are freed once the caller drops the app.

    Args:
        config: the settings (default ``EmulatorConfig()``); ignored if ``emulator`` is given.
        emulator: an existing emulator (e.g. one built with a fake clock in tests).
    """
    app = _EmulatorApp(
        title="iqm_async IQM emulator",
        version=COCOS_VERSION,
        description="A local IQM server speaking the V1 (CoCoS) and IQM Server v1 APIs.",
        exception_handlers={
            RequestValidationError: _validation_error,
            StarletteHTTPException: _http_error,
        },
    )
    app.state.emulator = emulator or Emulator(config)
    # Plain routes on the app itself (``include_router`` would nest them in a router object,
    # which the middleware's route matching for injected faults does not look into).
    for route in (*_ROUTES, *SERVER_API_ROUTES):
        app.add_api_route(
            route.path, route.endpoint, methods=[route.method], status_code=route.status_code
        )
    return app
