"""IQMBackend: the pytket ``Backend`` for IQM devices, a sync face over AsyncIQMClient.

::

    with IQMBackend("https://cocos.example.com", auth_server_url=..., username=...,
                    password=...) as backend:
        compiled = backend.get_compiled_circuits(circuits)
        handles = backend.process_circuits(compiled, n_shots=1000)
        results = backend.get_results(handles)

Compatible with pytket-iqm's ``IQMBackend(url, arch, auth_server_url, username, password)``,
with these differences: no network I/O in ``__init__`` (the architecture is fetched once,
on first use); circuits with the same shots that measure the same qubits are packed into
multi-circuit jobs (one HTTP submit for up to ``batch_size`` circuits); result handles are
persistent (``str(handle)`` -> ``ResultHandle.from_str``) and work on a new backend;
``simplify_initial`` is its own option; errors are iqm_async's typed errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Any, cast

import anyio
from pytket.architecture import Architecture
from pytket.backends.backend import Backend
from pytket.backends.backendinfo import BackendInfo
from pytket.backends.backendresult import BackendResult
from pytket.backends.resulthandle import ResultHandle, _ResultIdTuple
from pytket.backends.status import CircuitStatus, StatusEnum
from pytket.circuit import Circuit
from pytket.passes import BasePass
from pytket.predicates import NoSymbolsPredicate, Predicate

from .. import compiler
from ..auth import Credentials, resolve_credentials
from ..client import AsyncIQMClient
from ..compiler import CircuitJSON
from ..config import IQMConfig
from ..errors import CircuitValidationError, ConfigurationError, IQMError, PartialSubmissionError
from ..jobs import Job
from ..metadata import Metadata
from ..models import DynamicQuantumArchitecture
from ..results import JobPhase, JobStatus, MeasurementArrays
from ._checks import check_circuit, shots_per_circuit
from ._loop import ClientLoop

KwargTypes = Any  # pytket's keyword-argument type for backend methods

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IQMBackend",
    "backend_credentials",
    "circuit_status_of",
    "queue_text",
]

DEFAULT_BATCH_SIZE = 100
"""Circuits packed into one job at most (one HTTP submit each)."""

DEFAULT_TIMEOUT_S = 900.0
"""Default wait of ``get_result``/``get_metadata``, as pytket-iqm."""

_PYTKET_STATUS = {
    JobPhase.QUEUED: StatusEnum.QUEUED,
    JobPhase.RUNNING: StatusEnum.RUNNING,
    JobPhase.COMPLETED: StatusEnum.COMPLETED,
    JobPhase.FAILED: StatusEnum.ERROR,
    JobPhase.CANCELLED: StatusEnum.CANCELLED,
}


def circuit_status_of(status: JobStatus) -> CircuitStatus:
    """A job's status as pytket's ``CircuitStatus`` (no I/O): the phase gives the pytket
    status; the message is the server's message, or its own status word."""
    if status.phase is JobPhase.COMPLETED:
        return CircuitStatus(StatusEnum.COMPLETED)
    return CircuitStatus(_PYTKET_STATUS[status.phase], status.message or status.raw)


def backend_credentials(
    *,
    token: str | None,
    tokens_file: str | None,
    auth_server_url: str | None,
    username: str | None,
    password: str | None,
    env: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The backend's credential rule (no I/O but reading pytket's config file).

    ``IQM_TOKENS_FILE`` in the environment wins; otherwise the arguments; otherwise the
    ``iqm`` section of pytket's config file (:class:`IQMConfig`); otherwise the ``IQM_*``
    environment variables. Each source is complete on its own: values are never mixed.
    """
    environment = os.environ if env is None else env
    if environment.get("IQM_TOKENS_FILE"):
        return resolve_credentials(env=environment, tokens_file_overrides=True)
    if any((token, tokens_file, auth_server_url, username, password)):
        return resolve_credentials(
            token=token,
            tokens_file=tokens_file,
            auth_server_url=auth_server_url,
            username=username,
            password=password,
            env={},
        )
    stored = IQMConfig.load()
    if stored.username or stored.password:
        return resolve_credentials(
            auth_server_url=stored.auth_server_url,
            username=stored.username,
            password=stored.password,
            env={},
        )
    if stored.token:
        return resolve_credentials(token=stored.token, env={})
    return resolve_credentials(env=environment)


class IQMBackend(Backend):
    """A pytket ``Backend`` running circuits on an IQM server (or the local emulator).

    Args:
        url: the server's base URL, e.g. ``https://cocos.example.com``.
        arch: optional couplings ``[["QB1", "QB2"], ...]`` that override the server's
            connectivity (e.g. to use part of the chip).
        auth_server_url, username, password: password login at an auth server.
        token: a long-lived API token. tokens_file: a tokens file written by cortex-cli.
            Credentials come from the arguments, else pytket's config file
            (:func:`~iqm_async.config.set_iqm_config`), else ``IQM_*`` variables;
            ``IQM_TOKENS_FILE`` overrides them all.
        calibration_set_id: run with this calibration set (default: the server's).
        batch_size: circuits per job at most (default 100); 1 gives one job per circuit.
        progress: show a progress bar while ``get_results`` waits (default: when stderr is a
            terminal).
        client_options: further :class:`AsyncIQMClient` arguments (``timeout``,
            ``max_connections``, ``retry``, ``poll``, ``transport``).
    """

    _supports_shots = True
    _supports_counts = True
    _supports_contextual_optimisation = True
    _persistent_handles = True

    def __init__(
        self,
        url: str,
        arch: Sequence[Sequence[str]] | None = None,
        auth_server_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        tokens_file: str | None = None,
        calibration_set_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be an int >= 1, got {batch_size!r}")
        credentials = backend_credentials(
            token=token,
            tokens_file=tokens_file,
            auth_server_url=auth_server_url,
            username=username,
            password=password,
        )
        options = dict(client_options or {})
        # The V1 jobs API unless told otherwise, for now; client_options={"api": "auto"}
        # asks the server.
        options.setdefault("api", "cocos")
        # Validates the URL and options now, without network I/O.
        AsyncIQMClient(url, credentials=credentials, **options)
        self._url = url
        self._arch_override = [list(pair) for pair in arch] if arch is not None else None
        self._calibration_set_id = calibration_set_id
        self._batch_size = batch_size
        self._progress = progress
        self._loop = ClientLoop(lambda: AsyncIQMClient(url, credentials=credentials, **options))
        self._dqa: DynamicQuantumArchitecture | None = None
        self._architecture: Architecture | None = None
        self._backend_info: BackendInfo | None = None
        # Finished jobs by id, with their measurements per circuit as numpy arrays (a Python
        # list per shot made every later garbage collection slow); a job's metadata, mostly
        # the echo of every circuit, is parsed only when get_metadata asks.
        self._finished: dict[str, tuple[Job, MeasurementArrays]] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client and stop the background event loop. Idempotent."""
        self._loop.close()

    def __enter__(self) -> IQMBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- device -------------------------------------------------------------------------------

    def _device(self) -> tuple[DynamicQuantumArchitecture, Architecture]:
        if self._dqa is None or self._architecture is None:
            cal = self._calibration_set_id
            dqa = self._loop.call(lambda client: client.dynamic_architecture(cal))
            if dqa.computational_resonators:
                raise ConfigurationError(
                    "This device has computational resonators (MOVE gates), which the pytket "
                    "backend does not support yet; use AsyncIQMClient with native circuits."
                )
            self._architecture = compiler.architecture_from_dqa(dqa, self._arch_override)
            self._dqa = dqa
        return self._dqa, self._architecture

    @property
    def backend_info(self) -> BackendInfo:
        """Device name, architecture and gate set (fetched from the server once)."""
        if self._backend_info is None:
            from .. import __version__

            dqa, architecture = self._device()
            self._backend_info = BackendInfo(
                name=type(self).__name__,
                device_name=self._url.rstrip("/").rsplit("/", 1)[-1],
                version=__version__,
                architecture=architecture,
                gate_set=compiler.gate_set(dqa),
                misc={"calibration_set_id": str(dqa.calibration_set_id)},
            )
        return self._backend_info

    @property
    def required_predicates(self) -> list[Predicate]:
        """Native gates on coupled qubits, no classical control or mid-circuit measurement."""
        dqa, architecture = self._device()
        return compiler.required_predicates(architecture, compiler.gate_set(dqa))

    def rebase_pass(self) -> BasePass:
        """Rebase to {PhasedX, CZ} (Measure and Barrier pass through)."""
        return compiler.rebase_pass()

    def default_compilation_pass(self, optimisation_level: int = 1) -> BasePass:
        """The device's compilation pass at level 0, 1 (default, as pytket-iqm) or 2.

        ``get_compiled_circuit(s)`` default to level 2, as everywhere in pytket.
        """
        return compiler.default_compilation_pass(self._device()[1], optimisation_level)

    def get_compiled_circuits(
        self, circuits: Sequence[Circuit], optimisation_level: int = 2
    ) -> list[Circuit]:
        """Compile circuits for the device; many circuits compile in a process pool."""
        return compiler.compile_circuits(circuits, self._device()[1], optimisation_level)

    # --- submitting ---------------------------------------------------------------------------

    @property
    def _result_id_type(self) -> _ResultIdTuple:
        # (job id, index in the job, measurement layout JSON, post-processing circuit JSON)
        return (str, int, str, str)

    def process_circuits(
        self,
        circuits: Sequence[Circuit] | Circuit,
        n_shots: int | Sequence[int | None] | None = None,
        valid_check: bool = True,
        **kwargs: KwargTypes,
    ) -> list[ResultHandle]:
        """Validate, translate and submit circuits concurrently; return persistent handles.

        Supported kwargs: ``postprocess`` (bool, default False: contextual optimisation with
        classical post-processing), ``simplify_initial`` (bool, default False),
        ``batch_size`` (int, default the backend's), ``symbol_bindings`` (a list of mappings
        symbol -> value in half-turns: each circuit runs once per mapping, translated once;
        handles come circuit by circuit, each circuit's in binding order; ``n_shots`` stays
        per circuit). Other kwargs (e.g. ``timeout`` passed on by ``run_circuits``) are
        ignored here.

        Example (compile once, run 200 points)::

            compiled = backend.get_compiled_circuit(ansatz)  # symbols stay symbolic
            handles = backend.process_circuits(
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
        symbol_bindings = kwargs.get("symbol_bindings")
        points = compiler.check_sweep(circuits, symbol_bindings)
        if valid_check:
            self._validate(circuits, symbolic=symbol_bindings is not None)
        postprocess = bool(kwargs.get("postprocess", False))
        simplify_initial = bool(kwargs.get("simplify_initial", False))
        batch_size = int(kwargs.get("batch_size", self._batch_size))
        cal = self._calibration_set_id
        layouts: list[str] = []
        ppcircs: list[str] = []
        # Jobs being filled: (shots, measured qubits) -> (circuit indices, wire circuits).
        filling: dict[tuple[int, tuple[str, ...]], tuple[list[int], list[CircuitJSON]]] = {}
        sent: list[tuple[list[int], Future[str | IQMError]]] = []

        def send(shots: int, members: list[int], batch: list[CircuitJSON]) -> None:
            sent.append((members, self._loop.start(lambda c: self._submit(c, batch, shots, cal))))

        # A full job is sent while the next circuits are still being translated, so the
        # server works while this thread translates.
        translation_error: IQMError | None = None
        try:
            translated = compiler.translate_for_run(
                circuits,
                postprocess=postprocess,
                simplify_initial=simplify_initial,
                symbol_bindings=symbol_bindings,
            )
            for i, (source, wire, layout, ppcirc) in enumerate(translated):
                layouts.append(json.dumps(layout))
                ppcircs.append("null" if ppcirc is None else json.dumps(ppcirc.to_dict()))
                key = (shots_list[source], wire.measured)
                members, batch = filling.setdefault(key, ([], []))
                members.append(i)
                batch.append(wire)
                if len(members) == batch_size:
                    send(key[0], *filling.pop(key))
            for key, (members, batch) in filling.items():
                send(key[0], members, batch)
        except Exception as exc:
            # Jobs already sent run: wait for them below and hand their handles back.
            translation_error = (
                exc
                if isinstance(exc, IQMError)
                else CircuitValidationError(f"Circuit {len(layouts)} cannot be prepared: {exc}")
            )
        handles: list[ResultHandle | None] = [None] * (len(circuits) * points)
        failures: list[IQMError] = []
        for members, future in sent:
            outcome = future.result()
            if isinstance(outcome, IQMError):
                failures.append(outcome)
                continue
            for position, i in enumerate(members):
                handles[i] = ResultHandle(outcome, position, layouts[i], ppcircs[i])
        for handle in handles:
            if handle is not None:
                self._cache[handle] = {}
        if translation_error is not None:
            if not sent:
                raise translation_error
            failures.append(translation_error)
        if failures:
            raise PartialSubmissionError(handles, failures)
        return cast(list[ResultHandle], handles)

    def _validate(self, circuits: Sequence[Circuit], symbolic: bool = False) -> None:
        predicates = self.required_predicates
        if symbolic:  # symbols get values from the bindings
            predicates = [p for p in predicates if not isinstance(p, NoSymbolsPredicate)]
        architecture = self._device()[1]
        for index, circuit in enumerate(circuits):
            check_circuit(index, circuit, predicates, architecture)

    # --- results ------------------------------------------------------------------------------

    def circuit_status(self, handle: ResultHandle) -> CircuitStatus:
        """The status of the handle's job (COMPLETED once its result is here)."""
        self._check_handle_type(handle)
        job_id = cast(str, handle[0])
        if job_id in self._finished or "result" in self._cache.get(handle, {}):
            return CircuitStatus(StatusEnum.COMPLETED)
        status = self._loop.call(lambda client: client.job(job_id).status())
        if status.phase is JobPhase.COMPLETED:
            self._fetch_results([job_id], timeout=DEFAULT_TIMEOUT_S, progress=False)
        return circuit_status_of(status)

    def get_result(self, handle: ResultHandle, **kwargs: KwargTypes) -> BackendResult:
        """Wait for the handle's job (``timeout`` seconds, default 900) and decode its result.

        Raises:
            JobTimeoutError: the job did not finish in time (wait again later).
            JobFailedError, JobAbortedError: the job failed or was aborted.
        """
        return self.get_results([handle], progress=False, **kwargs)[0]

    def get_results(
        self, handles: Iterable[ResultHandle], **kwargs: KwargTypes
    ) -> list[BackendResult]:
        """Wait for all handles at once (each job fetched once for all its circuits).

        Supported kwargs: ``timeout`` (seconds for all, default 900), ``progress`` (bool).
        """
        handles = list(handles)
        for handle in handles:
            self._check_handle_type(handle)
        timeout = float(cast(float, kwargs.get("timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S))
        progress = kwargs.get("progress", self._progress)
        missing = [h for h in handles if "result" not in self._cache.get(h, {})]
        job_ids = list(dict.fromkeys(cast(str, h[0]) for h in missing))
        self._fetch_results(job_ids, timeout=timeout, progress=cast(bool | None, progress))
        for handle in missing:
            self._cache.setdefault(handle, {})["result"] = self._decode(handle)
        return [cast(BackendResult, self._cache[h]["result"]) for h in handles]

    def _decode(self, handle: ResultHandle) -> BackendResult:
        job_id, index, layout, ppcirc = handle
        measurements = self._finished[cast(str, job_id)][1]
        if not isinstance(index, int) or not 0 <= index < len(measurements):
            raise IQMError(
                f"Job {job_id} returned {len(measurements)} circuit results; the handle asks "
                f"for circuit {index}. Was the handle made for another job?"
            )
        return compiler.to_backend_result(
            measurements[index], json.loads(cast(str, layout)), json.loads(cast(str, ppcirc))
        )

    def _fetch_results(self, job_ids: list[str], *, timeout: float, progress: bool | None) -> None:
        todo = [j for j in job_ids if j not in self._finished]
        if not todo:
            return
        show = progress if progress is not None else sys.stderr.isatty()
        bar = _progress_bar(len(todo)) if show and len(todo) > 1 else None

        async def wait_all(client: AsyncIQMClient) -> IQMError | None:
            jobs = [client.job(j) for j in todo]
            first_error: IQMError | None = None
            ended_wait: IQMError | None = None  # the wait itself ended (e.g. timed out)

            async def collect() -> None:
                nonlocal first_error, ended_wait
                try:
                    async for job in client.as_completed(jobs, timeout=timeout):
                        try:
                            # Kept as each arrives: a failed job or a timeout loses no other.
                            await self._keep(job)
                        except IQMError as exc:
                            first_error = first_error or exc
                        if bar is not None:
                            bar.update(1)
                except IQMError as exc:  # raised below, not out of the task group
                    ended_wait = exc

            if bar is None:
                await collect()
            else:
                async with anyio.create_task_group() as shown:
                    shown.start_soon(_show_queue, bar, jobs)
                    await collect()
                    shown.cancel_scope.cancel()
            return ended_wait or first_error

        try:
            error = self._loop.call(wait_all)
            if error is not None:
                raise error
        finally:
            if bar is not None:
                bar.close()

    async def _submit(
        self,
        client: AsyncIQMClient,
        batch: list[CircuitJSON],
        shots: int,
        calibration_set_id: str | None,
    ) -> str | IQMError:
        """Submit one job and start collecting its result; an error is returned (not raised)
        so that other jobs' handles survive.

        The translator wrote the circuits as JSON, so no models are built for them.
        """
        qubits = sorted({q for circuit in batch for q in circuit.qubits})
        try:
            job = await client.submit_json(
                [circuit.json for circuit in batch],
                shots=shots,
                # The identity mapping makes metadata.request.qubit_mapping list the physical
                # qubits, as pytket-iqm's users read them.
                qubit_mapping={q: q for q in qubits},
                calibration_set_id=calibration_set_id,
            )
        except IQMError as exc:
            return exc
        self._loop.start_background(lambda: self._collect(job))
        return job.id

    async def _collect(self, job: Job) -> None:
        """Keep the job's result as soon as it is ready, so get_results finds it waiting.

        A failure is left on the job: the next wait for it (get_result, circuit_status)
        raises it to the caller.
        """
        with contextlib.suppress(IQMError):
            await self._keep(job)

    async def _keep(self, job: Job) -> None:
        """Wait for the job and keep it and its measurement arrays (raises its error)."""
        arrays = await job.measurement_arrays()
        self._finished[job.id] = (job, arrays)

    def get_metadata(self, handle: ResultHandle, **kwargs: KwargTypes) -> Metadata:
        """Wait for the handle's job (``timeout``, default 900 s) and return its metadata.

        Example::

            backend.run_circuit(circuit, n_shots=100, timeout=30)
            handle = backend.process_circuits([circuit], n_shots=100)[0]
            result = backend.get_result(handle)
            metadata = backend.get_metadata(handle)
            print([qm.physical_name for qm in metadata.request.qubit_mapping])
        """
        self._check_handle_type(handle)
        timeout = float(cast(float, kwargs.get("timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S))
        job_id = cast(str, handle[0])
        self._fetch_results([job_id], timeout=timeout, progress=False)
        job = self._finished[job_id][0]
        return self._loop.call(lambda _: job.metadata())

    def cancel(self, handle: ResultHandle) -> None:
        """Abort the handle's job on the server (every circuit of that job)."""
        self._check_handle_type(handle)
        job_id = cast(str, handle[0])
        self._loop.call(lambda client: client.job(job_id).abort())


def queue_text(status: JobStatus | None) -> str:
    """Where a job is, for the progress bar: its queue position or its progress, if the
    server reports them (no I/O)."""
    if status is None:
        return ""
    if status.queue_position is not None:
        return f"next job: {status.queue_position} jobs ahead in the queue"
    if status.progress is not None:
        return f"next job: {status.progress:.0%} done"
    return ""


async def _show_queue(bar: Any, jobs: list[Job], every_s: float = 0.5) -> None:
    """Show the oldest unfinished job's queue position or progress on ``bar`` until cancelled."""
    while True:
        waiting = next((job for job in jobs if not job.done), None)
        text = queue_text(waiting.last_status if waiting is not None else None)
        bar.set_postfix_str(text, refresh=False)
        await anyio.sleep(every_s)


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="job", desc="IQM jobs")
