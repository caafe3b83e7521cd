"""The one poller of an :class:`AsyncIQMClient`: it polls the jobs someone waits for.

A single dispatcher task, in the client's task group, keeps a heap of waiting jobs by their
next poll time (each job has its own, from :class:`~iqm_async.policies.PollPolicy`) and starts
a status poll when one is due, never two starts closer than ``1 / max_polls_per_s``. Each poll
holds a connection slot from the moment its start time is taken, so polls queued behind busy
connections cannot later burst past the cap. When a status is terminal the full result is
fetched once and handed to the :class:`~iqm_async.jobs.Job`, which wakes its waiters.

Jobs nobody waits for drop out of the heap lazily. Transient faults on a poll never reach a
waiter: the next poll is simply scheduled after the retry delay (``Retry-After`` honoured).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random

import anyio
from anyio.abc import TaskStatus

from ._http import AttemptFailed, Transport, parse_reply
from .errors import ConfigurationError, InvalidResponseError, IQMError, JobAbortedError
from .jobs import Job, JobPhase, job_phase, outcome_error
from .models import RunCounts, RunResult, RunStatus
from .policies import Failure, PollPolicy, next_poll_slot

logger = logging.getLogger("iqm_async.poller")


class Poller:
    """Polls waiting jobs for one client and implements :class:`~iqm_async.jobs.JobServer`.

    Args:
        transport: the client's HTTP layer.
        policy: when to poll, and the client-wide cap on polls per second.
    """

    def __init__(self, transport: Transport, policy: PollPolicy) -> None:
        self._transport = transport
        self._policy = policy
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._wakeup: anyio.Event | None = None
        self._last_start: float | None = None
        self._watched: set[Job] = set()
        self._running = False
        self._scope: anyio.CancelScope | None = None  # made in run(): needs the event loop
        self._closed_reason: str | None = None
        self.polls_sent = 0
        """Status polls started by this poller (retried polls included)."""
        self.polls_in_flight = 0
        """Status polls or result fetches running right now."""

    @property
    def poll_policy(self) -> PollPolicy:
        """The poll policy in use."""
        return self._policy

    # --- JobServer ----------------------------------------------------------------------------

    def watch(self, job: Job) -> None:
        """A wait for ``job`` began: make sure it is scheduled."""
        if not self._running:
            raise ConfigurationError(
                self._closed_reason
                or "The client is not open: use `async with AsyncIQMClient(...) as client:` "
                "before waiting for jobs."
            )
        self._watched.add(job)
        if not job.done and not job._scheduled and not job._in_flight:
            self._schedule(job, job._next_poll_at)

    def unwatch(self, job: Job) -> None:
        """A wait for ``job`` ended; once nobody waits, the job drops out of the heap."""
        if job._waiters <= 0:
            self._watched.discard(job)

    async def fetch_status(self, job_id: str) -> RunStatus:
        """One status read with the client's bounded retries."""
        self._check_open()
        return await self._transport.get(
            f"jobs/{job_id}/status",
            RunStatus,
            what="job status",
            kind="status",
            max_attempts=self._transport.retry.max_attempts,
        )

    async def fetch_counts(self, job_id: str) -> RunCounts:
        """The counts of a finished job; transient faults are retried until cancelled."""
        self._check_open()
        return await self._transport.get(
            f"jobs/{job_id}/counts", RunCounts, what="job counts", kind="counts", max_attempts=None
        )

    async def send_abort(self, job_id: str) -> None:
        """POST the abort; retried like a read, since aborting twice changes nothing."""
        self._check_open()

        async def attempt() -> None:
            await self._transport.send_once("POST", f"jobs/{job_id}/abort", kind="abort")

        await self._transport.call(attempt, max_attempts=self._transport.retry.max_attempts)

    # --- the dispatcher -----------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Dispatch polls until cancelled (the client cancels it when it closes)."""
        self._scope = anyio.CancelScope()
        if self._closed_reason is not None:
            self._scope.cancel()
        with self._scope:
            async with anyio.create_task_group() as polls:
                self._running = True
                task_status.started()
                try:
                    await self._dispatch(polls)
                finally:
                    self._running = False

    def stop(self) -> None:
        """Cancel the dispatcher and the polls in flight (safe to call more than once)."""
        self._running = False
        if self._scope is not None:
            self._scope.cancel()

    def close(self, reason: str) -> None:
        """Stop accepting waits and end the current ones with ``reason``."""
        self._closed_reason = reason
        self._running = False
        for job in list(self._watched):
            if not job.done:
                job._fail_waits(ConfigurationError(f"{reason} (while waiting for job {job.id})"))
        self._watched.clear()

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise ConfigurationError(self._closed_reason)

    def _schedule(self, job: Job, due: float) -> None:
        job._scheduled = True
        entry = (due, next(self._order), job)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry and self._wakeup is not None:
            self._wakeup.set()

    def _next_wanted(self) -> tuple[float, Job] | None:
        """The heap top still worth polling; drops jobs that ended or lost their waiters."""
        while self._heap:
            due, _, job = self._heap[0]
            if job._waiters > 0 and not job.done:
                return due, job
            heapq.heappop(self._heap)
            job._scheduled = False
        return None

    async def _sleep(self, until: float | None) -> None:
        """Sleep until ``until`` (or forever), or until a new job becomes the heap top."""
        event = self._wakeup = anyio.Event()
        delay = math.inf if until is None else until - anyio.current_time()
        with anyio.move_on_after(delay):
            await event.wait()

    async def _dispatch(self, polls: anyio.abc.TaskGroup) -> None:
        spacing = self._policy.min_spacing_s
        limiter = self._transport.limiter
        while True:
            top = self._next_wanted()
            if top is None:
                await self._sleep(None)
                continue
            due, job = top
            slot = next_poll_slot(due, self._last_start, spacing)
            if slot > anyio.current_time():
                await self._sleep(slot)
                continue
            heapq.heappop(self._heap)
            job._scheduled = False
            job._in_flight = True
            borrower = object()
            # Take the connection slot before the start time, so the cap holds at the server.
            await limiter.acquire_on_behalf_of(borrower)
            self._last_start = anyio.current_time()
            self.polls_sent += 1
            self.polls_in_flight += 1
            polls.start_soon(self._poll, job, borrower)

    async def _poll(self, job: Job, borrower: object) -> None:
        try:
            try:
                reply = await self._status_once(job.id)
            finally:
                self._transport.limiter.release_on_behalf_of(borrower)
            now = anyio.current_time()
            if isinstance(reply, Failure):
                job._fault_streak += 1
                job._next_poll_at = now + self._transport.retry.delay_s(
                    reply, job._fault_streak, random.random()
                )
                return
            job._fault_streak = 0
            job._record_status(reply)
            job._polls_done += 1
            phase = job_phase(reply.status)
            if phase is JobPhase.WAITING:
                job._next_poll_at = self._policy.next_poll_at(now, job._polls_done)
            elif phase is JobPhase.ABORTED:
                job._finish(None, JobAbortedError(job.id, reply.status.value, reply.message))
            else:
                job.terminal_seen_at = now
                await self._finish_from_result(job)
        except IQMError as exc:
            job._fail_waits(exc)
        except Exception as exc:  # a bug must not kill the poller; the waiters get told
            logger.exception("Unexpected error while polling job %s", job.id)
            job._fail_waits(InvalidResponseError(f"Polling job {job.id} failed: {exc!r}"))
        finally:
            self.polls_in_flight -= 1
            job._in_flight = False
            if (
                self._running
                and not job.done
                and job._poll_error is None
                and job._waiters > 0
                and not job._scheduled
            ):
                self._schedule(job, job._next_poll_at)

    async def _status_once(self, job_id: str) -> RunStatus | Failure:
        """One status poll; a transient fault comes back as its :class:`Failure`."""
        path = f"jobs/{job_id}/status"
        try:
            response = await self._transport.send_once("GET", path, kind="status", limited=False)
        except AttemptFailed as exc:
            if self._transport.retry.is_transient(exc.failure, waiting=True):
                return exc.failure
            raise exc.error from None
        return parse_reply(response, RunStatus, "job status")

    async def _finish_from_result(self, job: Job) -> None:
        """The status is terminal: fetch the full result once and settle the job."""
        result = await self._transport.get(
            f"jobs/{job.id}", RunResult, what="job result", kind="result", max_attempts=None
        )
        phase = job_phase(result.status)
        if phase is JobPhase.WAITING:
            # The full result lags behind the status endpoint: poll again soon.
            job._next_poll_at = self._policy.next_poll_at(anyio.current_time(), 0)
            return
        if phase is JobPhase.READY and result.measurements is None:
            raise InvalidResponseError(
                f"The result of job {job.id} says 'ready' but has no measurements. Check that "
                "the URL points at a supported IQM server version.",
                url=self._transport.url_for(f"jobs/{job.id}"),
            )
        job._finish(result, outcome_error(job.id, result))
