"""IQMBackend: the pytket ``Backend`` for IQM devices, a thin sync shell over AsyncIQMBackend.

::

    with IQMBackend("garnet", api_token=...) as backend:      # pytket-iqm 0.16-0.18's form
        compiled = backend.get_compiled_circuits(circuits)
        handles = backend.process_circuits(compiled, n_shots=1000)
        results = backend.get_results(handles)

    IQMBackend("https://cocos.example.com", auth_server_url=..., username=..., password=...)

A drop-in for pytket-iqm's ``IQMBackend``, in both its forms (``_dropin`` tells them apart):
construction authenticates and fetches the architecture, so bad credentials fail there, unless
the architecture is given offline; ``circuit_status`` says SUBMITTED until a job ends; invalid
circuits raise pytket's ``CircuitNotValidError``. What it does better: circuits with the same
shots that measure the same qubits are packed into multi-circuit jobs (one HTTP submit for up
to ``batch_size`` circuits); result handles are persistent (``str(handle)`` ->
``ResultHandle.from_str``) and work on a new backend; ``simplify_initial`` is its own option;
errors are iqm_async's typed errors.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, cast

import anyio
from pytket.backends.backend import Backend
from pytket.backends.backendinfo import BackendInfo
from pytket.backends.backendresult import BackendResult
from pytket.backends.resulthandle import ResultHandle, _ResultIdTuple
from pytket.backends.status import CircuitStatus, StatusEnum
from pytket.circuit import Circuit
from pytket.passes import BasePass
from pytket.predicates import Predicate

from .. import compiler
from ..auth import Credentials, resolve_credentials
from ..client import AsyncIQMClient
from ..config import IQMConfig
from ..errors import ConfigurationError, IQMError, PartialSubmissionError
from ..jobs import Job
from ..models import DynamicQuantumArchitecture, Metadata
from ..quality import QualityMetrics
from ..results import JobStatus
from ._async import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_TIMEOUT_S,
    HANDLE_TYPES,
    AsyncIQMBackend,
    Device,
)
from ._dropin import offline_architecture, resolve_target
from ._handles import read_handle
from ._loop import BackendLoop

KwargTypes = Any  # pytket's keyword-argument type for backend methods

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IQMBackend",
    "backend_credentials",
    "queue_text",
]


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

    Two forms, as pytket-iqm's users know them::

        IQMBackend(url, arch=None, auth_server_url=None, username=None, password=None, ...)
        IQMBackend(device, api_token=None, server_url=None, ...)   # pytket-iqm 0.16-0.18

    Construction authenticates and fetches the device's architecture (one listing of the
    quantum computers and one architecture request), so a bad URL, device or credential
    fails here with its typed error (e.g. :class:`~iqm_async.errors.AuthenticationError`);
    given ``architecture``, it does no I/O at all.

    Args:
        url: the server's URL, e.g. ``https://cocos.example.com`` (V1, by its device path or
            host) or an IQM Server's root URL (then the device comes from
            ``client_options={"quantum_computer": ...}`` or ``IQM_QUANTUM_COMPUTER``, or is
            the server's only one).
        arch: optional couplings ``[["QB1", "QB2"], ...]`` that override the server's
            connectivity (e.g. to use part of the chip).
        auth_server_url, username, password: password login at an auth server.
        device: the quantum computer's alias on the IQM Server API, e.g. ``"garnet"`` (may
            be given as the first argument instead of a URL).
        api_token: a long-lived API token (``token`` is the same).
        server_url: the IQM Server's root URL for ``device``: default ``IQM_SERVER_URL``,
            else ``https://resonance.iqm.tech``.
        token: a long-lived API token. tokens_file: a tokens file written by cortex-cli.
            Credentials come from the arguments, else pytket's config file
            (:func:`~iqm_async.config.set_iqm_config`), else ``IQM_*`` variables;
            ``IQM_TOKENS_FILE`` overrides them all.
        api: the server API (default ``"auto"``: decided by the URL, or by asking the
            server); ``"cocos"`` or ``"iqm-server"`` to say it.
        architecture: the device's dynamic architecture given offline (a
            :class:`~iqm_async.models.DynamicQuantumArchitecture` or its JSON, e.g. saved
            earlier): construction then does no I/O, and compiling works without a server.
        calibration_set_id: run with this calibration set (default: the server's).
        batch_size: circuits per job at most (default 100); 1 gives one job per circuit.
        progress: show a progress bar while ``get_results`` waits (default: when stderr is a
            terminal).
        client_options: further :class:`AsyncIQMClient` arguments (``timeout``,
            ``max_connections``, ``retry``, ``poll``, ``transport``, ``quantum_computer``).

    Raises:
        ConfigurationError: arguments that fit neither form, or a bad option.
        AuthenticationError: the server or auth server refused the credentials.
        IQMError: any other failure to reach the server or read its architecture.
    """

    _supports_shots = True
    _supports_counts = True
    _supports_contextual_optimisation = True
    _persistent_handles = True

    def __init__(
        self,
        url: str | None = None,
        arch: Sequence[Sequence[str]] | str | None = None,
        auth_server_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        device: str | None = None,
        api_token: str | None = None,
        server_url: str | None = None,
        token: str | None = None,
        tokens_file: str | None = None,
        api: str = "auto",
        architecture: DynamicQuantumArchitecture | str | Mapping[str, Any] | None = None,
        calibration_set_id: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be an int >= 1, got {batch_size!r}")
        target = resolve_target(
            url,
            arch,
            auth_server_url,
            username,
            password,
            device=device,
            api_token=api_token,
            token=token,
            server_url=server_url,
        )
        dqa = offline_architecture(architecture) if architecture is not None else None
        credentials = backend_credentials(
            token=target.token,
            tokens_file=tokens_file,
            auth_server_url=target.auth_server_url,
            username=target.username,
            password=target.password,
        )
        options = dict(client_options or {})
        options.setdefault("api", api)
        named = options.setdefault("quantum_computer", target.quantum_computer)
        if target.quantum_computer is not None and named != target.quantum_computer:
            raise ConfigurationError(
                f"The device is {target.quantum_computer!r}, but client_options names "
                f"quantum_computer={named!r}: give one."
            )
        # Validates the URL and options now, before any network I/O.
        AsyncIQMClient(target.url, credentials=credentials, **options)
        self._url = target.url
        self._device_name = target.quantum_computer or options.get("quantum_computer")
        self._progress = progress
        self._loop = BackendLoop(
            lambda: AsyncIQMClient(target.url, credentials=credentials, **options),
            lambda client: AsyncIQMBackend(
                client,
                calibration_set_id=calibration_set_id,
                arch=target.arch,
                batch_size=batch_size,
                architecture=dqa,
            ),
        )
        # A backend nobody closes is closed when it is collected or when the interpreter
        # exits (logging out, stopping its thread), whichever comes first.
        self._closer = weakref.finalize(self, self._loop.close)
        # As pytket-iqm: log in and fetch the architecture now, so that bad credentials,
        # URLs or devices fail here rather than at the first compile; given offline, no I/O.
        try:
            self._device = (
                Device.of(dqa, target.arch)
                if dqa is not None
                else self._loop.call(lambda b: b.device())
            )
        except BaseException:
            self.close()
            raise

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client (logging out if it logged in) and stop the background event
        loop. Idempotent; also done when the backend is collected or the interpreter exits."""
        self._closer()

    def __enter__(self) -> IQMBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def pop_result(self, handle: ResultHandle) -> dict[str, Any] | None:
        """Remove the handle's cached result; its job's measurements go too once no other
        cached handle of that job is left."""
        entry = self._cache.pop(handle, None)
        job_id = handle[0] if len(handle) else None
        if self._loop.started and not any(h[0] == job_id for h in self._cache):
            self._loop.call(_forgetting([cast(str, job_id)]))
        return entry

    def empty_cache(self) -> None:
        """Empty the result cache, and the jobs' measurements kept for it."""
        super().empty_cache()
        if self._loop.started:
            self._loop.call(_forgetting(None))

    # --- device -------------------------------------------------------------------------------

    @property
    def backend_info(self) -> BackendInfo:
        """Device name, architecture, gate set and calibration set (no I/O)."""
        name = self._device_name or self._url.rstrip("/").rsplit("/", 1)[-1]
        return self._device.backend_info(name)

    @property
    def required_predicates(self) -> list[Predicate]:
        """Native gates on coupled qubits, no classical control or mid-circuit measurement."""
        return self._device.required_predicates()

    def rebase_pass(self) -> BasePass:
        """Rebase to {PhasedX, CZ} (Measure and Barrier pass through)."""
        return compiler.rebase_pass()

    def default_compilation_pass(self, optimisation_level: int = 1) -> BasePass:
        """The device's compilation pass at level 0, 1 (default, as pytket-iqm) or 2.

        ``get_compiled_circuit(s)`` default to level 2, as everywhere in pytket.
        """
        return self._device.compilation_pass(optimisation_level)

    def get_compiled_circuit(self, circuit: Circuit, optimisation_level: int = 2) -> Circuit:
        """Compile one circuit for the device (a copy; the input is not changed).

        Raises:
            CircuitValidationError: the circuit cannot be compiled for the device (e.g. it
                has more qubits than the device), where pytket would raise ``RuntimeError``.
        """
        return self.get_compiled_circuits([circuit], optimisation_level)[0]

    def get_compiled_circuits(
        self, circuits: Sequence[Circuit], optimisation_level: int = 2
    ) -> list[Circuit]:
        """Compile circuits for the device, in this thread (never the event loop's),
        noise-aware where the server publishes quality metrics; many circuits compile in a
        process pool."""
        return self._device.compile(circuits, optimisation_level)

    @property
    def quality_metrics(self) -> QualityMetrics | None:
        """The calibration set's quality metrics (fetched with the architecture), or
        ``None`` when the server publishes none: then placement counts CZs only and
        ``backend_info`` has no error figures."""
        return self._device.metrics

    def estimated_success_probability(self, circuit: Circuit) -> float | None:
        """The estimated chance that a compiled circuit runs without a gate or readout error
        on this device (:func:`~iqm_async.compiler.estimated_success_probability`); ``None``
        when the server publishes no quality metrics.

        Raises:
            CircuitValidationError: the circuit is not compiled for the device.
        """
        return self._device.estimated_success_probability(circuit)

    def estimated_fidelity(
        self, circuit: Circuit, ideal: Iterable[float] | None = None
    ) -> float | None:
        """The Hellinger fidelity to the ideal distribution that a compiled circuit's
        estimated success probability predicts on this device, if every failed run gives a
        uniformly random outcome (:func:`~iqm_async.compiler.estimated_fidelity`); ``None``
        when the server publishes no quality metrics.

        The success probability ranks placements of one circuit; this ranks different
        circuits as their measured fidelities do, since a circuit whose ideal outcomes are
        spread out loses little fidelity to a failed run. Simulates the circuit in this
        thread unless ``ideal`` (its ideal outcome probabilities, any order) is given.

        Raises:
            CircuitValidationError: the circuit is not compiled for the device, or cannot be
                simulated (a symbol, a gate after a measurement).
            InputError: ``ideal`` is not a distribution, or the circuit acts on more than
                ``compiler.MAX_SIMULATED_QUBITS`` qubits and ``ideal`` is missing.
        """
        return self._device.estimated_fidelity(circuit, ideal)

    # --- submitting ---------------------------------------------------------------------------

    @property
    def _result_id_type(self) -> _ResultIdTuple:
        # (job id, index in the job, measurement layout JSON, post-processing circuit JSON)
        return HANDLE_TYPES

    def process_circuits(
        self,
        circuits: Sequence[Circuit] | Circuit,
        n_shots: int | Sequence[int | None] | None = None,
        valid_check: bool = True,
        **kwargs: KwargTypes,
    ) -> list[ResultHandle]:
        """Validate, translate and submit circuits concurrently; return persistent handles:
        :meth:`AsyncIQMBackend.process_circuits`, with its errors and its ``symbol_bindings``
        sweeps (compile once, run many points).

        Supported kwargs: ``postprocess`` (bool, default False: contextual optimisation with
        classical post-processing), ``simplify_initial`` (bool, default False),
        ``batch_size`` (int, default the backend's), ``symbol_bindings`` (a list of mappings
        symbol -> value in half-turns). Other kwargs (e.g. ``timeout`` passed on by
        ``run_circuits``) are ignored here.
        """
        circuits = [circuits] if isinstance(circuits, Circuit) else list(circuits)
        batch_size = kwargs.get("batch_size")
        symbol_bindings = kwargs.get("symbol_bindings")
        try:
            handles = self._loop.call(
                lambda b: b.process_circuits(
                    circuits,
                    n_shots,
                    valid_check,
                    postprocess=bool(kwargs.get("postprocess", False)),
                    simplify_initial=bool(kwargs.get("simplify_initial", False)),
                    batch_size=None if batch_size is None else int(batch_size),
                    symbol_bindings=symbol_bindings,
                )
            )
        except PartialSubmissionError as exc:
            self._cache.update({h: {} for h in exc.handles if h is not None})
            raise
        self._cache.update({h: {} for h in handles})
        return handles

    # --- results ------------------------------------------------------------------------------

    def circuit_status(self, handle: ResultHandle) -> CircuitStatus:
        """The status of the handle's job (COMPLETED once its result is here)."""
        self._check_handle_type(handle)
        if "result" in self._cache.get(handle, {}):
            return CircuitStatus(StatusEnum.COMPLETED)
        return self._loop.call(lambda b: b.circuit_status(handle))

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
            read_handle(handle)  # a damaged handle is refused before any wait
        timeout = _timeout(kwargs)
        progress = kwargs.get("progress", self._progress)
        missing = [h for h in handles if "result" not in self._cache.get(h, {})]
        if missing:
            job_ids = list(dict.fromkeys(cast(str, h[0]) for h in missing))
            show = progress if progress is not None else sys.stderr.isatty()
            decoded = self._loop.call(
                lambda b: _fetch_and_decode(b, job_ids, missing, timeout, bool(show))
            )
            for handle, result in zip(missing, decoded, strict=True):
                self._cache.setdefault(handle, {})["result"] = result
        return [cast(BackendResult, self._cache[h]["result"]) for h in handles]

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
        timeout = _timeout(kwargs)
        return self._loop.call(lambda b: b.get_metadata(handle, timeout=timeout))

    def get_mitigated_distribution(
        self, handle: ResultHandle, **kwargs: KwargTypes
    ) -> dict[tuple[int, ...], float]:
        """The handle's outcome distribution (outcome tuple over the result's ``c_bits`` ->
        probability) corrected for the published readout errors of the calibration set its
        job ran on; ``timeout`` as :meth:`get_result`. Opt-in; the returns and errors of
        :meth:`AsyncIQMBackend.get_mitigated_distribution`.

        Example::

            handle = backend.process_circuits([compiled], n_shots=4000)[0]
            raw = backend.get_result(handle).get_counts()
            corrected = backend.get_mitigated_distribution(handle)   # {(0, 1, 1): 0.49, ...}
        """
        self._check_handle_type(handle)
        timeout = _timeout(kwargs)
        return self._loop.call(lambda b: b.get_mitigated_distribution(handle, timeout=timeout))

    def cancel(self, handle: ResultHandle) -> None:
        """Abort the handle's job on the server (every circuit of that job)."""
        self._check_handle_type(handle)
        self._loop.call(lambda b: b.cancel(handle))


def _timeout(kwargs: Mapping[str, Any]) -> float:
    return float(cast(float, kwargs.get("timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S))


def _forgetting(job_ids: list[str] | None) -> Callable[[AsyncIQMBackend], Awaitable[None]]:
    async def forget(backend: AsyncIQMBackend) -> None:
        backend.forget(job_ids)

    return forget


async def _fetch_and_decode(
    backend: AsyncIQMBackend,
    job_ids: list[str],
    handles: list[ResultHandle],
    timeout: float,  # noqa: ASYNC109 - JobTimeoutError, not cancellation
    show: bool,
) -> list[BackendResult]:
    """:meth:`AsyncIQMBackend.get_results`, with a progress bar when ``show`` and several
    jobs are still to come."""
    waiting = [j for j in job_ids if not backend.has_job(j)]
    if not show or len(waiting) < 2:
        return await backend.get_results(handles, timeout=timeout)
    bar = _progress_bar(len(waiting))
    ended: IQMError | None = None  # raised after the task group, not wrapped by it
    results: list[BackendResult] = []
    try:
        async with anyio.create_task_group() as shown:
            shown.start_soon(_show_queue, bar, [backend.client.job(j) for j in waiting])
            try:
                results = await backend.get_results(
                    handles, timeout=timeout, on_each=lambda: bar.update(1)
                )
            except IQMError as exc:
                ended = exc
            shown.cancel_scope.cancel()
    finally:
        bar.close()
    if ended is not None:
        raise ended
    return results


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
