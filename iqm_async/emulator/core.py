"""The emulator's state: quantum computers (each an architecture and a QPU queue), one job
store, tokens, faults and counters.

Everything here runs on the event loop except the simulation of big circuits, which goes to
a worker thread once per job. Routes (``app.py``) only translate HTTP to these methods.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.to_thread
import numpy as np

from ..errors import ConfigurationError
from ..models import Circuit, RunRequest
from ..quality import QualityMetrics
from .architectures import Architecture, load_architecture
from .config import EmulatorConfig
from .faults import FaultPlan
from .metrics import generate_metrics, load_metrics, observation_set, v1_metrics_reply
from .noise import NoiseModel, noise_model, simulate_noisy
from .queue import JobState, JobTimes, QpuQueue, status_at
from .simulator import SimulationError, simulate_arrays
from .stats import DuplicateDetector, StatsCounters
from .tokens import TokenIssuer
from .validation import batch_failure, parse_run_request, validate_run_request
from .wire import Bits, counts_of, result_json

__all__ = ["COCOS_VERSION", "Device", "Emulator", "JobRecord"]

COCOS_VERSION = "30.2.0-emulated"
# Circuits touching more qubits than this are simulated in a worker thread so that one big
# simulation does not stall every other request.
_INLINE_SIMULATION_QUBITS = 12
# The same with noise on: a density matrix of n qubits costs what a state of 2n does.
_INLINE_NOISY_QUBITS = 6

_JOB_FAILURE_MESSAGE = (
    "Job execution failed on the QPU (emulated failure, job_fail_rate={rate}). "
    "Submit the job again."
)


@dataclass(eq=False)
class Device:
    """One emulated quantum computer: its alias, its chip and its own QPU queue.

    Attributes:
        alias: the architecture's name (``garnet``, ``star``, ...), used in era-F paths.
        architecture: the chip and its calibration set.
        queue: the executions of this computer's jobs (one QPU, or parallel).
        metrics: the quality metrics it serves (``None``: its metrics routes answer 404).
        metrics_reply, metrics_reply_v1: the IQM Server API and V1 metrics replies.
        noise: the noise its simulations apply (``None``: noiseless).
    """

    alias: str
    architecture: Architecture
    queue: QpuQueue
    metrics: QualityMetrics | None = None
    metrics_reply: bytes | None = None
    metrics_reply_v1: bytes | None = None
    noise: NoiseModel | None = None

    @property
    def readout_errors(self) -> dict[str, tuple[float, float]]:
        """``{qubit: (e01, e10)}`` for ``readout_noise``: the served metrics' figures where
        there are metrics, else the architecture file's."""
        if self.metrics is None:
            return self.architecture.readout_errors
        return dict(noise_model(self.metrics).readout)

    @property
    def id(self) -> str:
        """A stable UUID for the alias (the same in every emulator instance)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"iqm-emulator:{self.alias}"))

    @property
    def display_name(self) -> str:
        """The alias with capitals (``Garnet``, ``Star-Resonator``)."""
        return "-".join(part.capitalize() for part in self.alias.split("-"))


@dataclass(eq=False)
class JobRecord:
    """One job as the emulator stores it.

    Attributes:
        job_id: the UUID string returned by submit.
        request: the parsed run request (echoed in ``metadata.request``).
        circuits: the circuits with the qubit mapping applied (physical names).
        times: the job's schedule; its status is computed from it.
        seed: seeds this job's measurement results.
        device: the quantum computer the job runs on.
        message: why the job failed (``None`` unless it fails).
        bits: per-circuit results as ``shots x qubits`` int8 arrays per key, filled once
            when the job is first seen ready (compact: thousands of jobs stay in memory).
    """

    job_id: str
    request: RunRequest
    circuits: list[Circuit]
    times: JobTimes
    seed: int
    device: Device
    message: str | None = None
    bits: list[dict[str, Bits]] | None = None
    final_body: bytes | None = None
    payload: bytes | None = None
    """The era-F job definition as submitted (normalised), for ``GET jobs/{id}/payload``;
    ``None`` for jobs submitted on the V1 routes."""
    simulation_lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def measurements(self) -> list[dict[str, list[list[int]]]] | None:
        """The results in the V1 format (``[{key: [[bit, ...] per shot]}]``), if simulated."""
        if self.bits is None:
            return None
        return [{key: array.tolist() for key, array in c.items()} for c in self.bits]


class Emulator:
    """A local IQM server's brain. Build it with :func:`iqm_async.emulator.create_app`.

    Args:
        config: the settings; defaults to :class:`EmulatorConfig()`.
        clock: monotonic seconds (``time.monotonic`` or a fake clock in tests); job timing
            and token expiry follow it.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.config = config or EmulatorConfig()
        self.devices: dict[str, Device] = {}
        """The quantum computers by alias, in configuration order."""
        for name in self.config.quantum_computers:
            arch = load_architecture(name)
            if arch.name in self.devices:
                raise ConfigurationError(
                    f"EmulatorConfig.quantum_computers: two computers are named '{arch.name}'"
                )
            queue = QpuQueue(parallel=self.config.parallel)
            self.devices[arch.name] = Device(arch.name, arch, queue)
        self.device: Device = next(iter(self.devices.values()))
        self._set_up_metrics(time.time())
        """The quantum computer the V1 routes serve (the first)."""
        self.architecture: Architecture = self.device.architecture
        self.clock = clock or time.monotonic
        self._wall_offset = time.time() - self.clock()
        seed = self.config.seed
        self._id_rng = random.Random(seed)
        self._job_rng = random.Random(None if seed is None else seed + 1)
        self.faults = FaultPlan(self.config, random.Random(None if seed is None else seed + 2))
        self.jobs: dict[str, JobRecord] = {}
        self.queue = self.device.queue
        self.tokens = TokenIssuer(
            username=self.config.username,
            password=self.config.password,
            token_seconds=self.config.token_seconds,
            wall_clock=self.wall_time,
        )
        self.counters = StatsCounters()
        self.duplicates = DuplicateDetector()
        self.open_connections: Callable[[], int] | None = None
        """Set by the runner when it serves the app, so stats can report live connections."""

    def _set_up_metrics(self, now: float) -> None:
        """Give every device its metrics (``EmulatorConfig.metrics``), their replies, and
        its noise model when noise is on."""
        config = self.config
        mode = config.metrics if config.metrics is not None or not config.noise else "generated"
        stamp = datetime.fromtimestamp(now, tz=timezone.utc).replace(tzinfo=None)
        timestamp = stamp.isoformat(timespec="microseconds")
        for index, device in enumerate(self.devices.values()):
            arch = device.architecture
            metrics = arch.metrics
            if mode is not None and mode != "generated" and index == 0:
                metrics = load_metrics(mode, arch.dqa)
            elif mode is not None and metrics is None:
                metrics = generate_metrics(
                    arch.dqa,
                    seed=config.seed or 0,
                    name=device.alias,
                    readout_errors=arch.readout_errors,
                )
            if metrics is None:
                continue
            device.metrics = metrics
            reply = observation_set(metrics, arch.dqa, name=device.alias, timestamp=timestamp)
            device.metrics_reply = json.dumps(reply, separators=(",", ":")).encode()
            device.metrics_reply_v1 = json.dumps(
                v1_metrics_reply(reply), separators=(",", ":")
            ).encode()
            if config.noise:
                device.noise = noise_model(metrics, idle=config.idle_noise)

    def wall_time(self, clock_time: float | None = None) -> float:
        """Seconds since the epoch for a clock time (default: now)."""
        return (self.clock() if clock_time is None else clock_time) + self._wall_offset

    # --- jobs ---------------------------------------------------------------------------

    def submit(self, body: bytes) -> JobRecord:
        """Validate a V1 submit body and create the job on the V1 quantum computer.

        Raises:
            RequestRejected: the 400 detail for a request the server refuses.
        """
        return self.create_job(parse_run_request(body), body, self.device)

    def create_job(
        self, request: RunRequest, body: bytes, device: Device, *, payload: bytes | None = None
    ) -> JobRecord:
        """Validate ``request`` against ``device``'s chip and queue the job there.

        ``body`` is the submit body as received (for duplicate detection); ``payload`` the
        era-F definition to echo.

        Raises:
            RequestRejected: the 400 detail for a request the server refuses.
        """
        now = self.clock()
        arch = device.architecture
        circuits = validate_run_request(request, arch, max_shots=self.config.max_shots)
        # Count duplicates only among accepted submits: a rejected body created no job.
        if self.duplicates.seen_recently(body, now):
            self.counters.duplicate_submissions += 1
        message = batch_failure(circuits)
        fails = message is None and self._job_rng.random() < self.config.job_fail_rate
        if fails:
            message = _JOB_FAILURE_MESSAGE.format(rate=self.config.job_fail_rate)
        times = device.queue.schedule(
            now,
            self.config.job_duration_s(request.shots),
            fails=fails,
            compile_fails=message is not None and not fails,
        )
        job_id = str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))
        job = JobRecord(
            job_id, request, circuits, times, self._job_rng.getrandbits(63), device, message
        )
        job.payload = payload
        self.jobs[job_id] = job
        self.counters.jobs_created += 1
        return job

    def status(self, job: JobRecord) -> JobState:
        """The job's status now."""
        return status_at(job.times, self.clock())

    async def observe(self, job: JobRecord) -> JobState:
        """The job's status now, simulating its results first if it just became ready.

        Results are computed once per job with the job's own seed, so they do not depend on
        the order of requests. A circuit the simulator cannot run makes the job ``failed``.
        """
        status = self.status(job)
        if status is not JobState.READY or job.bits is not None:
            return status
        async with job.simulation_lock:
            if job.bits is None and job.message is None:
                limit = (
                    _INLINE_SIMULATION_QUBITS if job.device.noise is None else _INLINE_NOISY_QUBITS
                )
                big = max(len(c.qubits) for c in job.circuits) > limit
                try:
                    if big:
                        job.bits = await anyio.to_thread.run_sync(self._simulate, job)
                    else:
                        job.bits = self._simulate(job)
                except SimulationError as exc:
                    job.message = f"Circuit simulation failed: {exc}"
                    job.times.fails = True
        return self.status(job)

    def _simulate(self, job: JobRecord) -> list[dict[str, Bits]]:
        rng = np.random.default_rng(job.seed)
        noise = job.device.noise
        if noise is not None:
            return [simulate_noisy(c, job.request.shots, rng, noise) for c in job.circuits]
        readout = job.device.readout_errors if self.config.readout_noise else None
        return [simulate_arrays(c, job.request.shots, rng, readout) for c in job.circuits]

    def abort(self, job: JobRecord) -> JobState:
        """Abort a pending job; return the status it had (abort only acts on pending ones)."""
        status = self.status(job)
        if not status.is_terminal:
            job.device.queue.abort(job.times, self.clock())
        return status

    def delete(self, job: JobRecord) -> None:
        """Forget a job and its data (a pending one leaves the QPU queue first)."""
        self.abort(job)
        self.jobs.pop(job.job_id, None)

    def job_record(self, job_id: str) -> JobRecord | None:
        """The stored job (request, schedule, measurements), or ``None``."""
        return self.jobs.get(job_id)

    # --- replies ------------------------------------------------------------------------

    def iso(self, clock_time: float) -> str:
        """An ISO-8601 UTC timestamp (milliseconds) for a clock time."""
        moment = datetime.fromtimestamp(self.wall_time(clock_time), tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds")

    def metadata_json(self, job: JobRecord, now: float) -> bytes:
        """``metadata`` of a result as JSON: request echo, calibration set, version,
        timestamps. The echo, most of a large reply, is written by the model in one step."""
        times = job.times
        steps = [
            ("job_start", times.submitted),
            ("compile_start", times.submitted),
            ("compile_end", times.compile_end),
            ("submit_start", times.compile_end),
            ("submit_end", times.compile_end),
            ("execution_start", times.execution_start),
            ("execution_end", times.execution_end),
        ]
        end = times.job_end
        if times.fails_at_compile:
            steps = steps[:3]  # the job never reached the QPU
        stamps = {name: self.iso(t) for name, t in steps if t <= now and t <= end}
        if now >= end:
            stamps["job_end"] = self.iso(end)
        rest = {
            "calibration_set_id": job.device.architecture.calibration_set_id,
            "cocos_version": COCOS_VERSION,
            "timestamps": stamps,
        }
        others = json.dumps(rest, separators=(",", ":")).encode()
        return b'{"request":' + job.request.to_wire_json() + b"," + others[1:]

    def result_json(self, job: JobRecord, status: JobState) -> bytes:
        """The ``GET jobs/{id}`` reply for ``status``, as JSON bytes."""
        body: dict[str, Any] = {"status": status.value}
        body["message"] = job.message if status is JobState.FAILED else None
        if status is JobState.ABORTED:
            body["message"] = "Job was aborted by the user"
        body["warnings"] = None
        reply = result_json(body, job.bits if status is JobState.READY else None)
        # The metadata goes last: ``reply`` ends with the body's closing brace.
        return reply[:-1] + b',"metadata":' + self.metadata_json(job, self.clock()) + b"}"

    def counts_body(self, job: JobRecord, status: JobState) -> dict[str, Any]:
        """The ``GET jobs/{id}/counts`` reply; ``counts_batch`` only when ready."""
        body: dict[str, Any] = {"status": status.value}
        if status is JobState.READY and job.bits is not None:
            body["counts_batch"] = [
                counts_of(circuit.measurement_keys, results)
                for circuit, results in zip(job.circuits, job.bits, strict=True)
            ]
        return body

    # --- observability ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters, plus jobs by current status (and live connections when served)."""
        snapshot = self.counters.snapshot()
        now = self.clock()
        by_status: dict[str, int] = {}
        for job in list(self.jobs.values()):  # a copy: the server thread may be adding jobs
            key = status_at(job.times, now).value
            by_status[key] = by_status.get(key, 0) + 1
        snapshot["jobs_by_status"] = by_status
        snapshot["jobs_total"] = len(self.jobs)
        if self.open_connections is not None:
            snapshot["open_connections"] = self.open_connections()
        return snapshot

    def reset_stats(self) -> None:
        """Zero the counters (the job store is kept)."""
        self.counters.reset()
