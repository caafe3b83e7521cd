"""Job handles: wait for a job, read its result or counts, abort it.

A :class:`Job` reaches the server through the client that made it, typed as the small
:class:`JobServer` protocol (so this module never imports ``client``). Waiting is shared: the
client's one poller polls each job that someone waits for, on that job's own schedule (the
oldest waiting jobs, by :attr:`Job.seq`, most often) and under a client-wide rate cap,
fetches the full result once when the job ends, and caches it here. Any number of tasks may
wait for the same job; cancelling one wait stops only that wait.
"""

from __future__ import annotations

import logging
import math
import warnings
from enum import Enum
from typing import Protocol

import anyio
import numpy as np
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import ValidationError

from .api._v1_measurements import MeasurementArrays
from .errors import (
    ConfigurationError,
    InvalidResponseError,
    IQMError,
    JobAbortedError,
    JobFailedError,
    JobTimeoutError,
)
from .metadata import Metadata
from .models import MeasurementsBatch, RunCounts, RunResult, RunStatus, Status
from .policies import PollPolicy
from .transport._transport import validation_problems

__all__ = ["ABORT_GRACE_S", "Job", "JobPhase", "JobServer", "ServerWarning", "job_phase"]

logger = logging.getLogger(__name__)

ABORT_GRACE_S = 10.0
"""How long a cancelled ``result(abort_on_cancel=True)`` may spend aborting the job, in seconds."""


class ServerWarning(UserWarning):
    """A warning the server attached to a job, re-emitted with :func:`warnings.warn`."""


class JobPhase(str, Enum):
    """What a job status means for a waiting caller."""

    WAITING = "waiting"
    """Not finished (also for a status this client does not know): keep polling."""
    READY = "ready"
    """Finished with results: fetch the full result once."""
    FAILED = "failed"
    """Finished without results: fetch the full result for the server's message, then raise."""
    ABORTED = "aborted"
    """Aborted or deleted: raise, nothing to fetch."""


_PHASES = {
    Status.READY: JobPhase.READY,
    Status.FAILED: JobPhase.FAILED,
    Status.ABORTED: JobPhase.ABORTED,
    Status.DELETED: JobPhase.ABORTED,
    Status.DELETION_FAILED: JobPhase.ABORTED,
}


def job_phase(status: Status) -> JobPhase:
    """The phase of a job status (pure; an unknown status keeps the job waiting)."""
    return _PHASES.get(status, JobPhase.WAITING)


def outcome_error(job_id: str, result: RunResult) -> IQMError | None:
    """The exception a finished job's result stands for, or ``None`` if it has results."""
    phase = job_phase(result.status)
    if phase is JobPhase.FAILED:
        return JobFailedError(job_id, result.message)
    if phase is JobPhase.ABORTED:
        return JobAbortedError(job_id, result.status.value, result.message)
    return None


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


class JobServer(Protocol):
    """What a :class:`Job` needs from the client that made it."""

    @property
    def poll_policy(self) -> PollPolicy:
        """The client's poll policy (the first poll of a new job is scheduled from it)."""
        ...

    def watch(self, job: Job) -> None:
        """Someone started waiting for ``job``: poll it (raises if the client is closed)."""
        ...

    def unwatch(self, job: Job) -> None:
        """A wait for ``job`` ended: stop polling it once nobody waits."""
        ...

    async def fetch_status(self, job_id: str) -> RunStatus:
        """One status read (bounded retries)."""
        ...

    async def fetch_counts(self, job_id: str) -> RunCounts:
        """The counts of a finished job (transient faults retried until cancelled)."""
        ...

    async def send_abort(self, job_id: str) -> None:
        """Ask the server to abort the job."""
        ...


class Job:
    """A job on the server: wait for it, read its result, abort it.

    Get one from :meth:`AsyncIQMClient.submit` or :meth:`AsyncIQMClient.job`. The poller
    fills in its state; results are fetched once and cached.

    Attributes:
        id: the server's job id (a UUID string).
    """

    def __init__(
        self, job_id: str, server: JobServer, *, seq: int = 0, first_poll_at: float = 0.0
    ) -> None:
        self.id = job_id
        self.seq = seq
        """Creation number in its client (0, 1, 2, ...): lower is older. The poller polls
        the oldest waiting jobs most often, as a QPU queue ends jobs roughly in this order."""
        self._server = server
        # Poll schedule, owned by the poller.
        self._next_poll_at = first_poll_at  # due time of the job's live schedule entry
        self._entry: int | None = None  # id of that entry in the poller's heaps, None if none
        self._last_poll_start: float | None = None
        self._polls_done = 0
        self._fault_streak = 0  # transient poll faults in a row, for their backoff
        self._in_flight = False
        self._head = False  # one of the oldest waiting jobs, polled every head_interval_s
        self._in_age_heap = False  # has an entry in the poller's heap of jobs by seq
        self._waiters = 0
        # What is known.
        self._last_status: RunStatus | None = None
        self._result: RunResult | None = None
        # Measurements read as arrays; then _result has none until result() builds the lists.
        self._arrays: MeasurementArrays | None = None
        # The result's metadata as JSON, parsed on first use; _result's metadata is empty.
        self._metadata_json: bytes | None = None
        self._error: IQMError | None = None  # a final outcome (failed, aborted)
        self._poll_error: IQMError | None = None  # a non-transient poll fault, for current waits
        self._counts: RunCounts | None = None
        self._warned = False
        self._done: anyio.Event | None = None
        self._listeners: set[MemoryObjectSendStream[Job]] = set()
        self.terminal_seen_at: float | None = None
        """Clock time (``anyio.current_time()``) of the status reply that said the job ended."""
        self.finished_at: float | None = None
        """Clock time (``anyio.current_time()``) when the job's outcome was known here."""

    def __repr__(self) -> str:
        status = self._last_status.status.value if self._last_status else "not polled"
        return f"Job(id={self.id!r}, status={status!r})"

    # --- state set by the poller --------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the job's outcome (result, failure or abort) is known here."""
        return self._result is not None or self._error is not None

    @property
    def last_status(self) -> Status | None:
        """The last status seen, without a request (``None`` before the first poll)."""
        return self._last_status.status if self._last_status else None

    def _done_event(self) -> anyio.Event:
        if self._done is None:
            self._done = anyio.Event()
        return self._done

    def _record_status(self, status: RunStatus) -> None:
        self._last_status = status

    def _finish(
        self,
        result: RunResult | None,
        error: IQMError | None,
        arrays: MeasurementArrays | None = None,
        metadata_json: bytes | None = None,
    ) -> None:
        """The job ended: keep its result (with its measurements as arrays and its metadata as
        JSON, if read so) or its outcome error, wake every waiter."""
        self._result = result
        self._arrays = arrays
        self._metadata_json = metadata_json
        self._error = error
        self.finished_at = anyio.current_time()
        self._wake()

    def _fail_waits(self, error: IQMError) -> None:
        """Polling hit a non-transient fault (e.g. 404): end the current waits with it."""
        self._poll_error = error
        self._wake()

    def _wake(self) -> None:
        self._done_event().set()
        for stream in list(self._listeners):
            try:
                stream.send_nowait(self)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.WouldBlock):
                self._listeners.discard(stream)

    def _begin_wait(self) -> None:
        if self._waiters == 0 and self._poll_error is not None and not self.done:
            # A fresh wait after a poll fault starts over.
            self._poll_error = None
            self._done = None
        self._server.watch(self)  # raises if the client is closed: count the waiter after
        self._waiters += 1

    def _end_wait(self) -> None:
        self._waiters -= 1
        self._server.unwatch(self)

    def _raise_outcome(self) -> RunResult:
        """The result as the server sent it (measurements possibly held as arrays only)."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            assert self._poll_error is not None
            raise self._poll_error
        if self._result.warnings and not self._warned:
            self._warned = True
            for text in self._result.warnings:
                warnings.warn(ServerWarning(f"Job {self.id}: {text}"), stacklevel=3)
        return self._result

    # --- public API ---------------------------------------------------------------------------

    async def status(self) -> RunStatus:
        """The job's status now: one status request (none once the outcome is known)."""
        if self.done and self._last_status is not None:
            return self._last_status
        status = await self._server.fetch_status(self.id)
        self._record_status(status)
        return status

    async def wait(self, timeout: float | None = None) -> Status:  # noqa: ASYNC109
        """Wait until the job ends and return its final status (``ready``, ``failed``, ...).

        Does not raise for a failed or aborted job; :meth:`result` does.

        Args:
            timeout: seconds to wait at most (default: no limit).

        Raises:
            JobTimeoutError: the job did not end within ``timeout``; it goes on and can be
                waited for again.
        """
        await self._wait_done(timeout)
        if self._result is not None:
            return self._result.status
        if isinstance(self._error, JobAbortedError):
            return Status(self._error.status)
        return Status.FAILED

    async def result(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline, see below
        abort_on_cancel: bool = False,
    ) -> RunResult:
        """Wait for the job and return its result (fetched once, then cached).

        Server warnings on the result are re-emitted once as :class:`ServerWarning`.

        Args:
            timeout: seconds to wait at most (default: no limit).
            abort_on_cancel: if the waiting task is cancelled, also abort the job on the
                server (in a shielded scope of at most :data:`ABORT_GRACE_S` seconds).

        Raises:
            JobFailedError: the job failed; the message is the server's.
            JobAbortedError: the job was aborted or deleted.
            JobTimeoutError: the job did not end within ``timeout``; it goes on.
        """
        try:
            await self._wait_done(timeout)
        except anyio.get_cancelled_exc_class():
            if abort_on_cancel and not self.done:
                with anyio.move_on_after(ABORT_GRACE_S, shield=True):
                    try:
                        await self._server.send_abort(self.id)
                    except IQMError as exc:
                        logger.warning(
                            "Could not abort job %s after cancellation: %s", self.id, exc
                        )
            raise
        result = self._raise_outcome()
        if self._metadata_json is not None:
            self._parse_metadata(result)
            result = self._raise_outcome()
        if self._arrays is not None and result.measurements is None:
            # Built once, on the first call that asks for the lists.
            lists = [{key: bits.tolist() for key, bits in c.items()} for c in self._arrays]
            result = self._result = result.model_copy(update={"measurements": lists})
        return result

    def _parse_metadata(self, result: RunResult) -> Metadata:
        """The metadata kept as JSON, parsed now and kept in the result."""
        assert self._metadata_json is not None
        try:
            metadata = Metadata.model_validate_json(self._metadata_json)
        except ValidationError as exc:
            raise InvalidResponseError(
                f"Job {self.id}: the metadata of its result is not what the IQM protocol says "
                f"({validation_problems(exc)}). Check that the URL points at a supported IQM "
                "server version."
            ) from None
        self._result = result.model_copy(update={"metadata": metadata})
        self._metadata_json = None
        return metadata

    async def measurement_arrays(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
    ) -> MeasurementArrays:
        """Wait for the job and return its measurements as numpy arrays: per circuit, a dict
        of measurement key -> ``shots x qubits`` uint8 array.

        Far lighter than ``result().measurements`` for many shots: no Python list is built
        per shot. Same waits, warnings and errors as :meth:`result`.

        Raises:
            InvalidResponseError: the server's measurements are not 0/1 bits with the same
                number of bits in every shot of a key.
        """
        await self._wait_done(timeout)
        result = self._raise_outcome()
        if self._arrays is None:
            self._arrays = measurement_arrays_of(self.id, result.measurements or [])
        return self._arrays

    async def metadata(self, timeout: float | None = None) -> Metadata:  # noqa: ASYNC109
        """Wait for the job and return its metadata (the request echo, calibration set,
        timestamps), without building its measurements. Same waits and errors as
        :meth:`result`."""
        await self._wait_done(timeout)
        result = self._raise_outcome()
        if self._metadata_json is not None:
            return self._parse_metadata(result)
        return result.metadata

    async def counts(self) -> RunCounts:
        """Wait for the job (no time limit) and return its histograms, fetched once.

        Raises:
            JobFailedError, JobAbortedError: as :meth:`result`.
        """
        if self._counts is None:
            await self._wait_done(None)
            self._raise_outcome()
            self._counts = await self._server.fetch_counts(self.id)
        return self._counts

    async def abort(self) -> None:
        """Ask the server to abort the job. Waits then end with :class:`JobAbortedError`.

        Raises:
            ConflictError or another APIStatusError: the server refused, e.g. because the
                job has already finished.
        """
        await self._server.send_abort(self.id)

    async def _wait_done(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if self.done:
            return
        if timeout is not None and (math.isnan(timeout) or timeout < 0):
            raise ConfigurationError(f"timeout must be None or >= 0 seconds, got {timeout!r}")
        started = anyio.current_time()
        self._begin_wait()
        try:
            with anyio.move_on_after(timeout):
                await self._done_event().wait()
        finally:
            self._end_wait()
        if self.done:
            return
        if self._poll_error is not None:
            raise self._poll_error
        raise JobTimeoutError(
            self.id,
            anyio.current_time() - started,
            self.last_status.value if self.last_status else None,
        )
