"""IQM Server API v1 replies built from the emulator's state (no I/O): JobData, error bodies,
the static architecture.

The era-F status is derived from the same job schedule (:class:`~.queue.JobTimes`) as the V1
words, at the emulator clock's ``now``:

- pending compilation, and pending execution before the QPU starts it: ``waiting``, with
  ``queue_position`` (the jobs ahead of it on that computer's QPU, 0 = next; see
  ``QpuQueue.position``);
- pending execution once the QPU runs it: ``processing``, with
  ``execution.progress.circuits`` = the share of the execution time passed, in circuits;
- ready: ``completed`` (artifacts listed); failed: ``failed`` (``errors``); aborted:
  ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..models import DynamicQuantumArchitecture
from .queue import JobState, JobTimes

__all__ = [
    "SERVER_SOURCE",
    "error_body",
    "is_server_api_path",
    "job_data",
    "server_status",
    "static_architecture",
]

SERVER_SOURCE = "iqm-server"
STATION_SOURCE = "iqm-station-control"
_PREFIX = "/api/v1/"
_V1_CALIBRATION_PREFIX = "/api/v1/calibration/"  # the V1 gates route lives under /api/v1 too
_ARTIFACTS = [{"type": "measurements"}, {"type": "measurement_counts"}]


def is_server_api_path(path: str) -> bool:
    """True for paths of the era-F route table (errors there use the era-F body)."""
    return path.startswith(_PREFIX) and not path.startswith(_V1_CALIBRATION_PREFIX)


def error_body(message: str, error_code: str | None = None) -> dict[str, Any]:
    """An IQMServerError: ``message`` (and its deprecated echo ``detail``), code, source."""
    return {
        "message": message,
        "error_code": error_code,
        "source": SERVER_SOURCE,
        "detail": message,
    }


def server_status(state: JobState, times: JobTimes, now: float) -> str:
    """The era-F status word for a job in V1 ``state`` at clock time ``now``."""
    if state is JobState.READY:
        return "completed"
    if state is JobState.FAILED:
        return "failed"
    if state is JobState.ABORTED:
        return "cancelled"
    started = not times.fails_at_compile and now >= times.execution_start
    return "processing" if started else "waiting"


def _progress(times: JobTimes, now: float, circuits: int) -> dict[str, Any]:
    if times.execution_s <= 0:
        done = circuits
    else:
        share = (now - times.execution_start) / times.execution_s
        done = max(0, min(circuits, int(share * circuits)))
    return {"progress": {"circuits": {"value": done, "max_value": circuits}}}


def _timeline(
    status: str, times: JobTimes, now: float, iso: Callable[[float], str]
) -> list[dict[str, str]]:
    steps = [
        (SERVER_SOURCE, "created", times.submitted),
        (STATION_SOURCE, "received", times.submitted),
        (STATION_SOURCE, "compilation_started", times.submitted),
    ]
    end = times.job_end
    if not times.fails_at_compile:
        steps += [
            (STATION_SOURCE, "compilation_ended", times.compile_end),
            (STATION_SOURCE, "execution_started", times.execution_start),
            (STATION_SOURCE, "execution_ended", times.execution_end),
        ]
        if status == "completed":
            steps.append((STATION_SOURCE, "completed", times.execution_end))
    if status in ("completed", "failed", "cancelled"):
        steps.append((SERVER_SOURCE, "ready" if status == "completed" else status, end))
    return [
        {"source": source, "status": word, "timestamp": iso(moment)}
        for source, word, moment in steps
        if moment <= now and moment <= end
    ]


def job_data(
    *,
    job_id: str,
    state: JobState,
    times: JobTimes,
    now: float,
    circuits: int,
    queue_position: Callable[[], int],
    calibration_set_id: str,
    failure: str | None,
    iso: Callable[[float], str],
) -> dict[str, Any]:
    """The JobData reply of PROTOCOL.md 2.6 for one job at clock time ``now``.

    ``queue_position`` is asked only while the job waits (it scans the job's QPU queue);
    ``failure`` is the message of a failed job.
    """
    status = server_status(state, times, now)
    execution = None
    if status in ("processing", "completed"):
        execution = _progress(times, now, circuits)
    compiled = not times.fails_at_compile and now >= times.compile_end
    errors = []
    if status == "failed":
        code = "compilation_failed" if times.fails_at_compile else "execution_failed"
        errors.append(
            {"message": failure or "Job failed", "error_code": code, "source": STATION_SOURCE}
        )
    return {
        "id": job_id,
        "type": "circuit",
        "status": status,
        "queue_position": queue_position() if status == "waiting" else None,
        "execution": execution,
        "compilation": {"calibration_set_id": calibration_set_id} if compiled else None,
        "messages": [],
        "errors": errors,
        "timeline": _timeline(status, times, now, iso),
        "artifacts": _ARTIFACTS if status == "completed" else [],
    }


def static_architecture(alias: str, dqa: DynamicQuantumArchitecture) -> dict[str, Any]:
    """The one element of ``artifacts/static-quantum-architectures``: components and every
    pair some two-component gate (``cz``, ``move``) is calibrated on."""
    pairs: dict[frozenset[str], list[str]] = {}
    for gate in dqa.gates:
        for locus in dqa.loci(gate):
            if len(locus) == 2:
                pairs.setdefault(frozenset(locus), list(locus))
    return {
        "dut_label": f"emulated-{alias}",
        "qubits": list(dqa.qubits),
        "computational_resonators": list(dqa.computational_resonators),
        "connectivity": list(pairs.values()),
    }
