"""Job handles: wait for a job, read its result or counts, cancel it.

A :class:`Job` holds the job's id, the last status seen and, once the job has ended, one
outcome: its :class:`~iqm_async.results.JobResult` or the error it ended with. Everything
else goes through the client that made it, typed as the small :class:`JobServer` protocol
(so this module never imports ``client``): the client's one poller polls each job that
someone waits for, on that job's own schedule and under a client-wide rate cap, fetches the
result once when the job ends, and settles the job. Any number of tasks may wait for the
same job; cancelling one wait stops only that wait.
"""

from __future__ import annotations

import logging
import warnings
from typing import Protocol

import anyio

from .errors import IQMError, JobAbortedError, JobFailedError
from .models import Metadata
from .results import CircuitCounts, JobPhase, JobResult, JobStatus, MeasurementArrays

__all__ = ["ABORT_GRACE_S", "Job", "JobServer", "ServerWarning", "outcome_error"]

logger = logging.getLogger(__name__)

ABORT_GRACE_S = 10.0
"""How long a cancelled ``result(abort_on_cancel=True)`` may spend aborting the job, in seconds."""


class ServerWarning(UserWarning):
    """A warning the server attached to a job, re-emitted with :func:`warnings.warn`."""


def outcome_error(job_id: str, status: JobStatus) -> IQMError | None:
    """The exception a terminal status without results stands for (pure), else ``None``."""
    if status.phase is JobPhase.FAILED:
        # A word that says more than the phase (e.g. a failed deletion) is worth showing.
        said = None if status.raw == str(status.phase) else f"the job ended as '{status.raw}'"
        return JobFailedError(job_id, status.message or said)
    if status.phase is JobPhase.CANCELLED:
        return JobAbortedError(job_id, status.raw, status.message)
    return None


class JobServer(Protocol):
    """What a :class:`Job` needs from the client that made it."""

    async def wait_for(self, job: Job, timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once ``job`` is settled; raise ``JobTimeoutError`` after ``timeout``
        seconds, or the error that ended polling (e.g. a 404, the client closing)."""
        ...

    async def fetch_status(self, job_id: str) -> JobStatus:
        """One status read (bounded retries)."""
        ...

    async def fetch_counts(
        self, job_id: str, result: JobResult | None = None
    ) -> list[CircuitCounts]:
        """The histograms of a finished job (counted from ``result`` where the API allows,
        else fetched; transient faults retried until cancelled)."""
        ...

    async def fetch_metadata(self, job_id: str, status: JobStatus) -> Metadata:
        """The metadata of a finished job whose API sends it apart from the result."""
        ...

    async def send_cancel(self, job_id: str) -> None:
        """Ask the server to cancel the job."""
        ...

    async def send_delete(self, job_id: str) -> None:
        """Ask the server to delete the job and its data."""
        ...


class Job:
    """A job on the server: wait for it, read its result, cancel it.

    Get one from :meth:`AsyncIQMClient.submit` or :meth:`AsyncIQMClient.job`.

    Attributes:
        id: the server's job id (a UUID string).
        seq: creation number in its client (0, 1, 2, ...): lower is older. The poller polls
            the oldest waiting jobs most often, as a QPU queue ends jobs roughly in this order.
        terminal_seen_at: clock time (``anyio.current_time()``) of the status reply that said
            the job ended, if a poll saw it.
        finished_at: clock time when the job's outcome was known here.
    """

    def __init__(self, job_id: str, server: JobServer, *, seq: int = 0) -> None:
        self.id = job_id
        self.seq = seq
        self._server = server
        self._status: JobStatus | None = None
        self._outcome: JobResult | IQMError | None = None
        self._counts: list[CircuitCounts] | None = None
        self._warned = False
        self.terminal_seen_at: float | None = None
        self.finished_at: float | None = None
        self._poll_record: object = None
        """The poller's scheduling record of this job (its type is the poller's business)."""

    def __repr__(self) -> str:
        status = self._status.raw if self._status else "not polled"
        return f"Job(id={self.id!r}, status={status!r})"

    # --- set by the poller --------------------------------------------------------------------

    def _observe(self, status: JobStatus) -> None:
        """A status reply was read."""
        self._status = status

    def _settle(self, outcome: JobResult | IQMError, status: JobStatus) -> None:
        """The job ended: keep its outcome and its final status."""
        self._status = status
        self._outcome = outcome
        self.finished_at = anyio.current_time()

    # --- public API ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the job's outcome (result, failure or cancellation) is known here."""
        return self._outcome is not None

    @property
    def last_status(self) -> JobStatus | None:
        """The last status seen, without a request (``None`` before the first poll)."""
        return self._status

    async def status(self) -> JobStatus:
        """The job's status now: one status request (none once the outcome is known)."""
        if self.done and self._status is not None:
            return self._status
        status = await self._server.fetch_status(self.id)
        if not self.done:
            self._status = status
        return status

    async def wait(self, timeout: float | None = None) -> JobStatus:  # noqa: ASYNC109
        """Wait until the job ends and return its final status.

        Does not raise for a failed or cancelled job; :meth:`result` does.

        Args:
            timeout: seconds to wait at most (default: no limit).

        Raises:
            JobTimeoutError: the job did not end within ``timeout``; it goes on and can be
                waited for again.
        """
        await self._server.wait_for(self, timeout)
        assert self._status is not None
        return self._status

    async def result(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline, see below
        abort_on_cancel: bool = False,
    ) -> JobResult:
        """Wait for the job and return its result (fetched once, then kept).

        Server warnings on the result are re-emitted once as :class:`ServerWarning`.

        Args:
            timeout: seconds to wait at most (default: no limit).
            abort_on_cancel: if the waiting task is cancelled, also cancel the job on the
                server (in a shielded scope of at most :data:`ABORT_GRACE_S` seconds).

        Raises:
            JobFailedError: the job failed; the message is the server's.
            JobAbortedError: the job was cancelled or deleted.
            JobTimeoutError: the job did not end within ``timeout``; it goes on.
        """
        try:
            await self._server.wait_for(self, timeout)
        except anyio.get_cancelled_exc_class():
            if abort_on_cancel and not self.done:
                with anyio.move_on_after(ABORT_GRACE_S, shield=True):
                    try:
                        await self._server.send_cancel(self.id)
                    except IQMError as exc:
                        logger.warning(
                            "Could not abort job %s after cancellation: %s", self.id, exc
                        )
            raise
        return self._result_now()

    def _result_now(self) -> JobResult:
        outcome = self._outcome
        if isinstance(outcome, IQMError):
            raise outcome
        assert outcome is not None
        if outcome.warnings and not self._warned:
            self._warned = True
            for text in outcome.warnings:
                warnings.warn(ServerWarning(f"Job {self.id}: {text}"), stacklevel=3)
        return outcome

    async def measurement_arrays(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait's own deadline
    ) -> MeasurementArrays:
        """Wait for the job and return its measurements as numpy arrays: per circuit, a dict
        of measurement key -> ``shots x qubits`` uint8 array.

        Far lighter than ``result().measurements`` for many shots: no Python list is built
        per shot. Same waits, warnings and errors as :meth:`result`.
        """
        await self._server.wait_for(self, timeout)
        return self._result_now().measurement_arrays

    async def metadata(self, timeout: float | None = None) -> Metadata:  # noqa: ASYNC109
        """Wait for the job and return its metadata (the request echo, calibration set,
        timestamps), without building its measurements. Same waits and errors as
        :meth:`result`, and :class:`InvalidResponseError` if the metadata does not parse."""
        await self._server.wait_for(self, timeout)
        result = self._result_now()
        if not result.has_metadata:
            assert self._status is not None
            result.keep_metadata(await self._server.fetch_metadata(self.id, self._status))
        return result.metadata

    async def counts(self) -> list[CircuitCounts]:
        """Wait for the job (no time limit) and return one histogram per circuit, fetched once.

        Raises:
            JobFailedError, JobAbortedError: as :meth:`result`.
        """
        if self._counts is None:
            await self._server.wait_for(self, None)
            result = self._result_now()
            self._counts = await self._server.fetch_counts(self.id, result)
        return self._counts

    async def cancel(self) -> None:
        """Ask the server to cancel (abort) the job. Waits then end with
        :class:`JobAbortedError`.

        Raises:
            ConflictError or another APIStatusError: the server refused, e.g. because the
                job has already finished.
        """
        await self._server.send_cancel(self.id)

    async def abort(self) -> None:
        """The same as :meth:`cancel` (the V1 API's word for it)."""
        await self._server.send_cancel(self.id)

    async def delete(self) -> None:
        """Ask the server to delete the job and its data."""
        await self._server.send_delete(self.id)
