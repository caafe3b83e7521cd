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
from ..metadata import Metadata
from ..results import JobStatus
from ._async import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_TIMEOUT_S,
    HANDLE_TYPES,
    AsyncIQMBackend,
    circuit_status_of,
)
from ._loop import BackendLoop

KwargTypes = Any  # pytket's keyword-argument type for backend methods

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "IQMBackend",
    "backend_credentials",
    "circuit_status_of",
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
        self._progress = progress
        arch_pairs = [list(pair) for pair in arch] if arch is not None else None
        self._loop = BackendLoop(
            lambda: AsyncIQMClient(url, credentials=credentials, **options),
            lambda client: AsyncIQMBackend(
                client,
                calibration_set_id=calibration_set_id,
                arch=arch_pairs,
                batch_size=batch_size,
            ),
        )
        # A backend nobody closes is closed when it is collected or when the interpreter
        # exits (logging out, stopping its thread), whichever comes first.
        self._closer = weakref.finalize(self, self._loop.close)

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
        """Device name, architecture and gate set (fetched from the server once)."""
        name = self._url.rstrip("/").rsplit("/", 1)[-1]
        return self._loop.call(lambda b: b.backend_info(name))

    @property
    def required_predicates(self) -> list[Predicate]:
        """Native gates on coupled qubits, no classical control or mid-circuit measurement."""
        return self._loop.call(lambda b: b.required_predicates())

    def rebase_pass(self) -> BasePass:
        """Rebase to {PhasedX, CZ} (Measure and Barrier pass through)."""
        return compiler.rebase_pass()

    def default_compilation_pass(self, optimisation_level: int = 1) -> BasePass:
        """The device's compilation pass at level 0, 1 (default, as pytket-iqm) or 2.

        ``get_compiled_circuit(s)`` default to level 2, as everywhere in pytket.
        """
        return self._loop.call(lambda b: b.default_compilation_pass(optimisation_level))

    def get_compiled_circuits(
        self, circuits: Sequence[Circuit], optimisation_level: int = 2
    ) -> list[Circuit]:
        """Compile circuits for the device; many circuits compile in a process pool."""
        architecture = self._loop.call(lambda b: b.device())[1]
        return compiler.compile_circuits(circuits, architecture, optimisation_level)

    # --- submitting ---------------------------------------------------------------------------

    @property
    def _result_id_type(self) -> _ResultIdTuple:
        # (job id, index in the job, measurement layout JSON, post-processing circuit JSON)
        return HANDLE_TYPES

    def process_circuits(
        self,
        circuits: Sequence[Circuit],
        n_shots: int | Sequence[int | None] | None = None,
        valid_check: bool = True,
        **kwargs: KwargTypes,
    ) -> list[ResultHandle]:
        """Validate, translate and submit circuits concurrently; return persistent handles.

        Supported kwargs: ``postprocess`` (bool, default False: contextual optimisation with
        classical post-processing), ``simplify_initial`` (bool, default False),
        ``batch_size`` (int, default the backend's). Other kwargs (e.g. ``timeout`` passed on
        by ``run_circuits``) are ignored here.

        Raises:
            ConfigurationError: ``n_shots`` missing or invalid.
            CircuitValidationError: a circuit fails a required predicate (no job is sent).
            PartialSubmissionError: some jobs were submitted and some not; it carries the
                handles of those that were.
        """
        circuits = list(circuits)
        batch_size = kwargs.get("batch_size")
        try:
            handles = self._loop.call(
                lambda b: b.process_circuits(
                    circuits,
                    n_shots,
                    valid_check,
                    postprocess=bool(kwargs.get("postprocess", False)),
                    simplify_initial=bool(kwargs.get("simplify_initial", False)),
                    batch_size=None if batch_size is None else int(batch_size),
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
    """Wait for the jobs (with a progress bar when ``show`` and there are several) and
    decode the handles' results."""
    waiting = [j for j in job_ids if not backend.has_job(j)]
    if not show or len(waiting) < 2:
        await backend.fetch(job_ids, timeout=timeout)
    else:
        bar = _progress_bar(len(waiting))
        ended: IQMError | None = None  # raised after the task group, not wrapped by it
        try:
            async with anyio.create_task_group() as shown:
                jobs = [backend.client.job(j) for j in waiting]
                shown.start_soon(_show_queue, bar, jobs)
                try:
                    await backend.fetch(job_ids, timeout=timeout, on_each=lambda: bar.update(1))
                except IQMError as exc:
                    ended = exc
                shown.cancel_scope.cancel()
        finally:
            bar.close()
        if ended is not None:
            raise ended
    return [backend.decode(handle) for handle in handles]


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
