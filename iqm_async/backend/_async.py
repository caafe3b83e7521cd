"""AsyncIQMBackend: pytket circuits on an IQM server, for asyncio and trio programs.

::

    async with AsyncIQMClient(url, quantum_computer="garnet") as client:
        async with AsyncIQMBackend(client) as backend:
            compiled = await backend.get_compiled_circuits(circuits)
            handles = await backend.process_circuits(compiled, n_shots=1000)
            async for handle, result in backend.as_completed(handles):
                print(handle, result.get_counts())

The sync :class:`~iqm_async.backend.IQMBackend` is a thin shell over this class: it runs one
in a background event loop and calls it through a blocking portal. Everything a pytket
backend does (device, passes, batching circuits into jobs, persistent handles, decoding
results, metadata, cancel) lives here, once.

Compilation runs in worker processes (``anyio.to_process``): pytket holds the GIL for the
whole of a pass, so compiling in the event loop's thread, or in one of its worker threads,
would stall every other task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from types import TracebackType
from typing import Any, cast

import anyio
import anyio.to_process
from anyio.abc import TaskGroup
from pytket.architecture import Architecture
from pytket.backends.backend import ResultHandleTypeError
from pytket.backends.backendinfo import BackendInfo
from pytket.backends.backendresult import BackendResult
from pytket.backends.resulthandle import ResultHandle
from pytket.backends.status import CircuitStatus
from pytket.circuit import Circuit
from pytket.passes import BasePass
from pytket.predicates import NoSymbolsPredicate, Predicate

from .. import compiler
from ..client import AsyncIQMClient
from ..compiler import CircuitJSON, MeasurementLayout, StarDevice
from ..errors import (
    CircuitValidationError,
    ConfigurationError,
    InvalidResponseError,
    IQMError,
    PartialSubmissionError,
)
from ..jobs import Job
from ..models import DynamicQuantumArchitecture, Metadata
from ..quality import QualityMetrics
from ..results import JobPhase, JobStatus, MeasurementArrays
from ._checks import check_circuit, check_width, shots_per_circuit
from ._dropin import circuit_status_of
from ._handles import make_handle, read_handle
from ._mitigate import measured_sources
from ._star import check_no_resonator, device_architecture, star_misc, star_rewrite

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TIMEOUT_S",
    "AsyncIQMBackend",
    "Device",
    "check_handle",
]

logger = logging.getLogger("iqm_async.backend")

DEFAULT_BATCH_SIZE = 100
"""Circuits packed into one job at most (one HTTP submit each)."""

DEFAULT_TIMEOUT_S = 900.0
"""Default wait of ``get_result``/``get_metadata``, as pytket-iqm."""

HANDLE_TYPES = (str, int, str, str)
"""A result handle: (job id, circuit index in the job, measurement layout JSON,
post-processing circuit JSON or ``"null"``)."""


@dataclass(frozen=True)
class Device:
    """What a backend compiles for, and everything that follows from it without I/O.

    Attributes:
        dqa: the dynamic architecture of the calibration set in use.
        architecture: the pytket ``Architecture`` circuits are compiled for (a star chip's
            qubits fully connected: the MOVEs through its resonator go in at translation).
        star: a star chip's resonator and qubits, else ``None``.
        metrics: the calibration set's quality metrics, ``None`` when the server publishes
            none (placement then counts CZs only).
    """

    dqa: DynamicQuantumArchitecture
    architecture: Architecture
    star: StarDevice | None
    metrics: QualityMetrics | None = None
    whole_star: bool = False
    """A star chip compiled for all its qubit pairs (no ``arch`` override)."""
    _infos: dict[str, BackendInfo] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        dqa: DynamicQuantumArchitecture,
        arch: Sequence[Sequence[str]] | None = None,
        metrics: QualityMetrics | None = None,
    ) -> Device:
        """The device of ``dqa``, with couplings ``arch`` instead of the chip's if given.

        Raises:
            ConfigurationError: ``arch`` does not fit the chip.
        """
        usable = None if metrics is None or metrics.is_empty else metrics
        architecture, star = device_architecture(
            dqa, [list(pair) for pair in arch] if arch is not None else None, usable
        )
        return cls(dqa, architecture, star, usable, whole_star=star is not None and arch is None)

    @property
    def placement_metrics(self) -> QualityMetrics | None:
        """The metrics square-lattice placement ranks candidates by. A star chip's qubits
        are shown fully connected, so its couplers' figures say nothing about those pairs."""
        return None if self.star is not None else self.metrics

    @cached_property
    def placement_errors(self) -> compiler.DeviceErrors | None:
        """:attr:`placement_metrics` as the compiler reads them (error rates, the worst
        published figure where one is missing), converted once for the pass, the estimates
        and ``backend_info``."""
        metrics = self.placement_metrics
        return compiler.DeviceErrors.from_metrics(metrics) if metrics is not None else None

    def backend_info(self, device_name: str) -> BackendInfo:
        """pytket's ``BackendInfo``: device name, architecture, gate set, calibration set,
        and, where the server publishes quality metrics, pytket's per-node, per-edge (both
        directions) and readout error fields (the worst published figure where one is
        missing) and T1/T2 per qubit in ``misc``."""
        info = self._infos.get(device_name)
        if info is None:  # built once: pytket reads backend_info often
            info = self._infos[device_name] = self._backend_info(device_name)
        return info

    def _backend_info(self, device_name: str) -> BackendInfo:
        from .. import __version__

        misc: dict[str, Any] = {
            "calibration_set_id": str(self.dqa.calibration_set_id),
            **star_misc(self.star),
        }
        metrics = self.placement_metrics
        errors = self.placement_errors
        fields = (
            compiler.backend_info_errors(errors, self.architecture) if errors is not None else {}
        )
        if metrics is not None:
            for key in ("t1_s", "t2_s", "t2_echo_s"):
                values = {
                    qubit: getattr(quality, key)
                    for qubit, quality in sorted(metrics.qubits.items())
                    if getattr(quality, key) is not None
                }
                if values:
                    misc[key] = values
        return BackendInfo(
            name="IQMBackend",
            device_name=device_name,
            version=__version__,
            architecture=self.architecture,
            gate_set=compiler.gate_set(self.dqa),
            misc=misc,
            **fields,
        )

    def estimated_success_probability(self, circuit: Circuit) -> float | None:
        """The estimated chance that a compiled circuit runs without a gate or readout error
        (:func:`~iqm_async.compiler.estimated_success_probability`); ``None`` without
        metrics.

        Raises:
            CircuitValidationError: the circuit is not compiled for the device.
        """
        errors = self.placement_errors
        if errors is None:
            return None
        return compiler.estimated_success_probability(circuit, errors)

    def estimated_fidelity(
        self, circuit: Circuit, ideal: Iterable[float] | None = None
    ) -> float | None:
        """The Hellinger fidelity a compiled circuit's estimated success probability
        predicts on this device (:func:`~iqm_async.compiler.estimated_fidelity`); ``None``
        without metrics. Simulates the circuit unless ``ideal`` is given: call it off the
        event loop.

        Raises:
            CircuitValidationError: the circuit is not compiled for the device, or cannot be
                simulated.
            InputError: ``ideal`` is not a distribution, or the circuit is too wide to
                simulate and ``ideal`` is missing.
        """
        errors = self.placement_errors
        if errors is None:
            return None
        return compiler.estimated_fidelity(circuit, errors, ideal=ideal)

    def required_predicates(self) -> list[Predicate]:
        """Native gates on coupled qubits, no classical control or mid-circuit measurement."""
        return compiler.required_predicates(self.architecture, compiler.gate_set(self.dqa))

    def compilation_pass(self, optimisation_level: int) -> BasePass:
        """The device's compilation pass at level 0, 1 or 2, noise-aware where the server
        publishes quality metrics: on a square lattice by the couplers' figures, on a star
        chip (shown whole) by each pair's composed MOVE and CZ error."""
        if self.star is not None and self.whole_star:
            return compiler.star_compilation_pass(self.star, optimisation_level)
        return compiler.default_compilation_pass(
            self.architecture, optimisation_level, self.placement_errors
        )

    def compile(self, circuits: Sequence[Circuit], optimisation_level: int) -> list[Circuit]:
        """Compile in the calling thread (a process pool for many circuits): never call
        this on an event loop."""
        self.check_widths(circuits)
        return compiler.compile_with_pass(circuits, self.compilation_pass(optimisation_level))

    def check_widths(self, circuits: Sequence[Circuit]) -> None:
        """Refuse circuits wider than the device before compiling them (pytket would raise
        a bare ``RuntimeError``)."""
        for index, circuit in enumerate(circuits):
            check_width(index, circuit, self.architecture)

    def validate(self, circuits: Sequence[Circuit], *, symbolic: bool = False) -> None:
        """Refuse a circuit the device cannot run as given, naming the first failure.
        ``symbolic``: symbols are allowed (values come from symbol bindings).

        Raises:
            InvalidCircuitError: a failed predicate, an empty circuit, no measurement, or
                an operation on a star chip's resonator.
        """
        predicates = self.required_predicates()
        if symbolic:
            predicates = [p for p in predicates if not isinstance(p, NoSymbolsPredicate)]
        for index, circuit in enumerate(circuits):
            check_no_resonator(index, circuit, self.star)
            check_circuit(index, circuit, predicates, self.architecture)


class AsyncIQMBackend:
    """The pytket face of :class:`AsyncIQMClient`, for asyncio and trio programs.

    Args:
        client: an open client (its API, credentials and quantum computer decide the server).
        calibration_set_id: run with this calibration set (default: the server's).
        arch: couplings to use instead of the device's (pairs of ``QB<n>`` names).
        batch_size: circuits packed into one job at most.
        architecture: the device's dynamic architecture, given (e.g. saved earlier) instead
            of fetched.

    Use it as an async context manager to have each submitted job's result collected as
    soon as the server has it (so waits find it ready); outside one, results are fetched
    when asked for. Leaving the context stops that collection; the client stays open.
    """

    def __init__(
        self,
        client: AsyncIQMClient,
        *,
        calibration_set_id: str | None = None,
        arch: Sequence[Sequence[str]] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        architecture: DynamicQuantumArchitecture | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.client = client
        self.calibration_set_id = calibration_set_id
        self.batch_size = batch_size
        self._arch_override = [list(pair) for pair in arch] if arch is not None else None
        self._device = Device.of(architecture, arch) if architecture is not None else None
        self._device_lock = anyio.Lock()
        # When this backend saw each job submitted and in each phase (pytket's timestamps).
        self._seen: dict[str, dict[str, datetime]] = {}
        # Finished jobs by id, with their measurements per circuit as numpy arrays; a
        # job's metadata is parsed only when asked for.
        self._finished: dict[str, tuple[Job, MeasurementArrays]] = {}
        self._collector: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> AsyncIQMBackend:
        stack = AsyncExitStack()
        self._collector = await stack.enter_async_context(anyio.create_task_group())
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        collector, stack = self._collector, self._stack
        self._collector = self._stack = None
        if collector is not None:
            collector.cancel_scope.cancel()
        if stack is not None:
            # The collector tasks never raise, and they are cancelled now: leave their task
            # group as if the body ended normally, so that the body's own exception (if any)
            # reaches the caller as it is, not wrapped in an exception group.
            await stack.aclose()

    # --- device -------------------------------------------------------------------------------

    async def device(self) -> Device:
        """The device circuits are compiled for (its architecture fetched once)."""
        async with self._device_lock:
            if self._device is None:
                dqa = await self.client.dynamic_architecture(self.calibration_set_id)
                metrics = await self._metrics_of(dqa)
                self._device = Device.of(dqa, self._arch_override, metrics)
            return self._device

    async def _metrics_of(self, dqa: DynamicQuantumArchitecture) -> QualityMetrics | None:
        """The quality metrics of ``dqa``'s calibration set; ``None`` if the server publishes
        none or cannot give them now (placement then counts CZs, as without metrics)."""
        try:
            return await self.client.quality_metrics(str(dqa.calibration_set_id))
        except IQMError as exc:
            logger.warning("No quality metrics for placement: %s", exc)
            return None

    async def backend_info(self, device_name: str) -> BackendInfo:
        """Device name, architecture, gate set and calibration set (built once)."""
        return (await self.device()).backend_info(device_name)

    async def required_predicates(self) -> list[Predicate]:
        """Native gates on coupled qubits, no classical control or mid-circuit measurement."""
        return (await self.device()).required_predicates()

    def rebase_pass(self) -> BasePass:
        """Rebase to {PhasedX, CZ} (Measure and Barrier pass through)."""
        return compiler.rebase_pass()

    async def default_compilation_pass(self, optimisation_level: int = 1) -> BasePass:
        """The device's compilation pass at level 0, 1 (default, as pytket-iqm) or 2."""
        return (await self.device()).compilation_pass(optimisation_level)

    async def estimated_success_probability(self, circuit: Circuit) -> float | None:
        """The estimated chance that a compiled circuit runs without a gate or readout error
        on this device; ``None`` when the server publishes no quality metrics."""
        return (await self.device()).estimated_success_probability(circuit)

    async def estimated_fidelity(
        self, circuit: Circuit, ideal: Iterable[float] | None = None
    ) -> float | None:
        """The Hellinger fidelity to the ideal distribution that a compiled circuit's
        estimated success probability predicts on this device
        (:func:`~iqm_async.compiler.estimated_fidelity`); ``None`` when the server publishes
        no quality metrics. Without ``ideal`` the circuit is simulated in a worker process
        (at most ``compiler.MAX_SIMULATED_QUBITS`` active qubits), never in the event loop.
        """
        device = await self.device()
        errors = device.placement_errors
        if errors is None or ideal is not None:
            return device.estimated_fidelity(circuit, ideal)
        fidelity: float = await anyio.to_process.run_sync(
            compiler.estimated_fidelity_from_dicts, circuit.to_dict(), errors.to_json()
        )
        return fidelity

    @property
    def quality_metrics(self) -> QualityMetrics | None:
        """The device's quality metrics once the device is known (``None`` before, or when
        the server publishes none)."""
        return self._device.metrics if self._device is not None else None

    async def get_compiled_circuits(
        self, circuits: Sequence[Circuit], optimisation_level: int = 2
    ) -> list[Circuit]:
        """Compile circuits for the device in worker processes (never in this thread).

        The output equals :func:`iqm_async.compiler.compile_circuits`, circuit for circuit;
        identical circuits (equal but for their names) are compiled once. The first call
        starts the workers (about a second: each imports pytket); later calls reuse them.
        """
        device = await self.device()
        circuits = list(circuits)
        device.check_widths(circuits)
        pass_dict = device.compilation_pass(optimisation_level).to_dict()
        unique, first_of = compiler.distinct_circuits(circuits)
        compiled: dict[int, dict[str, Any]] = {}
        failures: list[IQMError] = []  # raised after the task group, not wrapped by it

        async def compile_one(index: int) -> None:
            try:
                compiled[index] = await anyio.to_process.run_sync(
                    compiler.compile_from_dicts, pass_dict, circuits[index].to_dict(), index
                )
            except IQMError as exc:
                failures.append(exc)
                workers.cancel_scope.cancel()

        async with anyio.create_task_group() as workers:
            for index in unique:
                workers.start_soon(compile_one, index)
        if failures:
            raise failures[0]
        distinct = [Circuit.from_dict(compiled[index]) for index in unique]
        return compiler.spread_compiled(circuits, unique, first_of, distinct)

    async def validate(self, circuits: Sequence[Circuit]) -> None:
        """Check circuits against the device, naming the first failure.

        Raises:
            InvalidCircuitError: a circuit the device cannot run as given.
        """
        (await self.device()).validate(circuits)

    # --- submitting ---------------------------------------------------------------------------

    async def process_circuits(
        self,
        circuits: Sequence[Circuit] | Circuit,
        n_shots: int | Sequence[int | None] | None = None,
        valid_check: bool = True,
        *,
        postprocess: bool = False,
        simplify_initial: bool = False,
        batch_size: int | None = None,
        symbol_bindings: Sequence[Mapping[Any, Any]] | None = None,
    ) -> list[ResultHandle]:
        """Validate, translate and submit circuits; return persistent handles.

        Circuits with the same shots that measure the same qubits share a job of up to
        ``batch_size`` circuits. A full job is submitted while later circuits are still
        being translated.

        ``symbol_bindings`` (a list of mappings symbol -> value in half-turns) runs each
        compiled symbolic circuit once per mapping, translated once (no pytket pass per
        point); handles come circuit by circuit, each circuit's in binding order, and
        ``n_shots`` stays per circuit. Example (compile once, run 200 points)::

            (compiled,) = await backend.get_compiled_circuits([ansatz])
            handles = await backend.process_circuits(
                compiled, n_shots=100, symbol_bindings=[{"theta": t / 100} for t in range(200)]
            )

        Raises:
            ConfigurationError: ``n_shots`` missing or invalid; a binding missing a symbol,
                naming one the circuit does not have, or with a value that is not a finite
                real number (no job is sent).
            CircuitValidationError: a circuit fails a required predicate (no job is sent).
            PartialSubmissionError: some jobs were submitted and some not; it carries the
                handles of those that were.
        """
        circuits = [circuits] if isinstance(circuits, Circuit) else list(circuits)
        shots_list = shots_per_circuit(n_shots, len(circuits))
        points = compiler.check_sweep(circuits, symbol_bindings)
        if valid_check:
            (await self.device()).validate(circuits, symbolic=symbol_bindings is not None)
        size = self.batch_size if batch_size is None else batch_size
        rewrite = star_rewrite((await self.device()).star)
        layouts: list[MeasurementLayout] = []
        ppcircs: list[str] = []
        # Jobs being filled: (shots, measured qubits) -> (circuit indices, wire circuits).
        filling: dict[tuple[int, tuple[str, ...]], tuple[list[int], list[CircuitJSON]]] = {}
        sent: list[tuple[list[int], list[str | IQMError]]] = []
        translation_error: IQMError | None = None

        async with anyio.create_task_group() as submits:

            def send(shots: int, members: list[int], batch: list[CircuitJSON]) -> None:
                outcome: list[str | IQMError] = []
                sent.append((members, outcome))
                submits.start_soon(self._submit, batch, shots, outcome)

            try:
                translated = compiler.translate_for_run(
                    circuits,
                    postprocess=postprocess,
                    simplify_initial=simplify_initial,
                    symbol_bindings=symbol_bindings,
                    rewrite=rewrite,
                )
                for i, (source, wire, layout, ppcirc) in enumerate(translated):
                    layouts.append(layout)
                    ppcircs.append("null" if ppcirc is None else json.dumps(ppcirc.to_dict()))
                    key = (shots_list[source], wire.measured)
                    members, batch = filling.setdefault(key, ([], []))
                    members.append(i)
                    batch.append(wire)
                    if len(members) == size:
                        send(key[0], *filling.pop(key))
                        # Let the submit start while the next circuits are translated.
                        await anyio.lowlevel.checkpoint()
                for key, (members, batch) in filling.items():
                    send(key[0], members, batch)
            except Exception as exc:
                # Jobs already sent run on: their handles are handed back below.
                translation_error = (
                    exc
                    if isinstance(exc, IQMError)
                    else CircuitValidationError(f"Circuit {len(layouts)} cannot be prepared: {exc}")
                )
        handles: list[ResultHandle | None] = [None] * (len(circuits) * points)
        failures: list[IQMError] = []
        for members, (outcome,) in sent:
            if isinstance(outcome, IQMError):
                failures.append(outcome)
                continue
            for position, i in enumerate(members):
                handles[i] = make_handle(outcome, position, layouts[i], ppcircs[i])
        if translation_error is not None:
            if not sent:
                raise translation_error
            failures.append(translation_error)
        if failures:
            raise PartialSubmissionError(handles, failures)
        return cast(list[ResultHandle], handles)

    async def _submit(self, batch: list[CircuitJSON], shots: int, outcome: list[Any]) -> None:
        """Submit one job; its id, or the error, goes to ``outcome`` (never raised, so that
        other jobs' handles survive). Its result is collected in the background."""
        qubits = sorted({q for circuit in batch for q in circuit.qubits})
        try:
            job = await self.client.submit_json(
                [circuit.json for circuit in batch],
                shots=shots,
                # The identity mapping makes metadata.request.qubit_mapping list the physical
                # qubits, as pytket-iqm's users read them.
                qubit_mapping={q: q for q in qubits},
                calibration_set_id=self.calibration_set_id,
            )
        except IQMError as exc:
            outcome.append(exc)
            return
        outcome.append(job.id)
        self._seen[job.id] = {"submitted": datetime.now(timezone.utc)}
        if self._collector is not None:
            self._collector.start_soon(self._collect, job)

    async def _collect(self, job: Job) -> None:
        """Keep the job's result as soon as it is ready. A failure stays on the job: the
        next wait for it raises it to the caller. Nothing escapes: an exception would end
        the collector's task group, and with it every later call."""
        with suppress(IQMError):
            await self._keep(job)

    async def _keep(self, job: Job) -> None:
        """Wait for the job and keep it and its measurement arrays.

        Raises:
            the job's error (failed, aborted, timed out), or InvalidResponseError for any
            unexpected failure reading it (logged), so one job's bad data ends only its wait.
        """
        try:
            arrays = await job.measurement_arrays()
        except IQMError:
            raise
        except Exception as exc:
            logger.error("Keeping the result of job %s failed: %r", job.id, exc)
            raise InvalidResponseError(
                f"Job {job.id}: its result could not be read ({type(exc).__name__}: {exc}). "
                "Other jobs are not affected; report this with the job id."
            ) from None
        self._finished[job.id] = (job, arrays)

    # --- results ------------------------------------------------------------------------------

    def has_job(self, job_id: str) -> bool:
        """True if the job has finished and its measurements are kept here (no I/O)."""
        return job_id in self._finished

    async def circuit_status(self, handle: ResultHandle) -> CircuitStatus:
        """The status of the handle's job, as pytket-iqm reports it: SUBMITTED until the job
        ends (the fine state, e.g. ``"queued (pending compilation)"``, in ``message``, and
        the queue position where the server reports it), then COMPLETED (once its result is
        here), ERROR or CANCELLED. Timestamps are when this backend saw each state (UTC).
        """
        job_id = check_handle(handle)[0]
        seen = self._seen.setdefault(job_id, {})
        if job_id in self._finished:
            status = JobStatus(JobPhase.COMPLETED, "completed")
        else:
            job = self.client.job(job_id)
            status = await job.status()
            if status.phase is JobPhase.COMPLETED:
                await self._keep(job)
        seen.setdefault(str(status.phase), datetime.now(timezone.utc))
        return circuit_status_of(status, seen)

    async def get_result(
        self,
        handle: ResultHandle,
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - JobTimeoutError, not cancel
    ) -> BackendResult:
        """Wait for the handle's job (``timeout`` seconds) and decode its result.

        Raises:
            JobTimeoutError: the job did not finish in time (wait again later).
            JobFailedError, JobAbortedError: the job failed or was aborted.
        """
        return (await self.get_results([handle], timeout=timeout))[0]

    async def get_results(
        self,
        handles: Iterable[ResultHandle],
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - JobTimeoutError, not cancel
        on_each: Callable[[], object] | None = None,
    ) -> list[BackendResult]:
        """Wait for all handles' jobs at once (each job fetched once for all its circuits)
        and decode their results, in the order given. ``on_each()`` is called as each job
        that was not here yet arrives (e.g. a progress bar's update)."""
        handles = list(handles)
        for handle in handles:
            check_handle(handle)
            read_handle(handle)  # a damaged handle is refused before any wait
        job_ids = list(dict.fromkeys(cast(str, h[0]) for h in handles))
        await self.fetch(job_ids, timeout=timeout, on_each=on_each)
        return [self.decode(handle) for handle in handles]

    async def fetch(
        self,
        job_ids: Sequence[str],
        *,
        timeout: float | None,  # noqa: ASYNC109 - JobTimeoutError, not cancel
        on_each: Callable[[], object] | None = None,
    ) -> None:
        """Wait for the jobs and keep their measurements; each is kept as it arrives, so a
        failed job or a timeout loses no other. ``on_each()`` is called per job kept.

        Raises:
            the first job's error (failed, aborted), or JobTimeoutError.
        """
        todo = [self.client.job(j) for j in dict.fromkeys(job_ids) if j not in self._finished]
        first_error: IQMError | None = None
        async for job in self.client.as_completed(todo, timeout=timeout):
            try:
                await self._keep(job)
            except IQMError as exc:
                first_error = first_error or exc
            if on_each is not None:
                on_each()
        if first_error is not None:
            raise first_error

    async def as_completed(
        self,
        handles: Iterable[ResultHandle],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - JobTimeoutError, not cancel
    ) -> AsyncIterator[tuple[ResultHandle, BackendResult]]:
        """Yield ``(handle, result)`` as each handle's job ends, soonest first.

        Raises:
            JobFailedError, JobAbortedError: when a failed or aborted job's turn comes.
            JobTimeoutError: not all jobs ended within ``timeout`` seconds.
        """
        by_job: dict[str, list[ResultHandle]] = {}
        for handle in handles:
            check_handle(handle)
            by_job.setdefault(read_handle(handle)[0], []).append(handle)
        for job_id in [j for j in by_job if j in self._finished]:
            for handle in by_job.pop(job_id):
                yield handle, self.decode(handle)
        jobs = [self.client.job(job_id) for job_id in by_job]
        async for job in self.client.as_completed(jobs, timeout=timeout):
            await self._keep(job)
            for handle in by_job[job.id]:
                yield handle, self.decode(handle)

    def decode(self, handle: ResultHandle) -> BackendResult:
        """The handle's result, from its job's kept measurements (no I/O).

        Raises:
            IQMError: the job is not here yet, or the handle does not fit its job.
        """
        check_handle(handle)
        job_id, index, layout, ppcirc = read_handle(handle)
        kept = self._finished.get(job_id)
        if kept is None:
            raise IQMError(f"Job {job_id} has no result here yet; wait for it first.")
        measurements = kept[1]
        if not 0 <= index < len(measurements):
            raise IQMError(
                f"Job {job_id} returned {len(measurements)} circuit results; the handle asks "
                f"for circuit {index}. Was the handle made for another job?"
            )
        try:
            return compiler.to_backend_result(measurements[index], layout, ppcirc)
        except IQMError:
            raise
        except Exception as exc:  # pytket refused the post-processing circuit
            raise ConfigurationError(
                f"Result handle for job {job_id} is damaged or was changed ({exc}). Use the "
                "handle process_circuits returned."
            ) from None

    async def get_metadata(
        self,
        handle: ResultHandle,
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - JobTimeoutError, not cancel
    ) -> Metadata:
        """Wait for the handle's job and return its metadata (request, calibration set,
        timestamps)."""
        job_id = check_handle(handle)[0]
        await self.fetch([job_id], timeout=timeout)
        return await self._finished[job_id][0].metadata()

    async def get_mitigated_distribution(
        self,
        handle: ResultHandle,
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - JobTimeoutError, not cancel
    ) -> dict[tuple[int, ...], float]:
        """The handle's outcome distribution corrected for readout errors (opt-in): its
        counts with each measured qubit's published readout errors inverted
        (:func:`~iqm_async.compiler.mitigated_distribution`), by the figures of the
        calibration set the job ran on.

        Returns:
            Outcome (a tuple over the result's ``c_bits``, as pytket's distributions) ->
            probability, summing to 1.

        Raises:
            ConfigurationError: the server publishes no readout errors for that calibration
                set.
            InputError: the circuit was submitted with ``postprocess=True`` (mitigation must
                come before post-processing).
            JobTimeoutError, JobFailedError, JobAbortedError: as :meth:`get_result`.
        """
        result = await self.get_result(handle, timeout=timeout)  # checks the handle
        job_id, index, layout, _ = read_handle(handle)
        metadata = await self.get_metadata(handle, timeout=timeout)
        metrics = await self._readout_metrics(metadata)
        sources = measured_sources(job_id, index, layout, metadata)
        return compiler.mitigated_distribution(result, sources, metrics)

    async def _readout_metrics(self, metadata: Metadata) -> QualityMetrics:
        """The quality metrics of the calibration set a job ran on, with readout figures."""
        metrics = (await self.device()).metrics
        ran_on = metadata.calibration_set_id
        if ran_on is not None and (metrics is None or metrics.calibration_set_id != ran_on):
            metrics = await self.client.quality_metrics(str(ran_on))
        if metrics is None or not any(
            quality.readout_error is not None for quality in metrics.qubits.values()
        ):
            which = (
                f"calibration set {ran_on}" if ran_on is not None else "this job's calibration set"
            )
            raise ConfigurationError(
                f"The server publishes no readout errors for {which}, so there is nothing to "
                "mitigate with; use get_result for the raw counts."
            )
        return metrics

    async def cancel(self, handle: ResultHandle) -> None:
        """Abort the handle's job on the server (every circuit of that job)."""
        await self.client.job(check_handle(handle)[0]).abort()

    def forget(self, job_ids: Iterable[str] | None = None) -> None:
        """Drop the kept measurements of these jobs (all jobs if ``None``)."""
        if job_ids is None:
            self._finished.clear()
            self._seen.clear()
            return
        for job_id in job_ids:
            self._finished.pop(job_id, None)
            self._seen.pop(job_id, None)


def check_handle(handle: ResultHandle) -> tuple[str, int, str, str]:
    """The handle's fields, checked to be this backend's kind (no I/O).

    Raises:
        ResultHandleTypeError: pytket's error for a handle of another backend.
    """
    if len(handle) != len(HANDLE_TYPES) or not all(
        type(field) is kind for field, kind in zip(handle, HANDLE_TYPES, strict=True)
    ):
        raise ResultHandleTypeError(
            f"ResultHandle {handle!r} does not match IQMBackend's handle type "
            "(job id, circuit index, layout JSON, post-processing JSON)."
        )
    return cast(tuple[str, int, str, str], tuple(handle))
