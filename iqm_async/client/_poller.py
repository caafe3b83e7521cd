"""The one poller of an :class:`AsyncIQMClient`: it polls the jobs someone waits for.

A single dispatcher task, in the client's task group, starts every status poll, never more than
``max_polls_per_s`` in any one-second window (a burst of up to a tenth of that goes at once). Each
waiting job has its own next poll time from :class:`~iqm_async.policies.PollPolicy`: a backoff
(50 ms growing to 2 s by default), except for the ``head_jobs`` oldest waiting jobs (lowest
:attr:`~iqm_async.jobs.Job.seq`), polled at least every ``head_interval_s``: a QPU queue ends
jobs roughly in submission order, so the oldest waiting job is the one most likely to have just
ended. When a head job ends, or nobody waits for it any more, the next oldest takes its place
and is polled within ``head_interval_s``. When the cap binds, the jobs due are served oldest
first.

Three heaps keep each poll O(log n) whatever the number of jobs: jobs not yet due, by due
time; jobs due, by :meth:`~iqm_async.policies.PollPolicy.service_key` (oldest first); and
waiting jobs that are not heads, by age, to find the next head. Entries are never searched
for: one that no longer counts (the job was rescheduled earlier, ended, or lost its waiters)
is dropped when it reaches its heap's top.

Each poll holds a connection slot from the moment its start time is taken, so polls queued
behind busy connections cannot later burst past the cap. When a status is terminal the full
result is fetched once and handed to the :class:`~iqm_async.jobs.Job`, which wakes its
waiters. Transient faults on a poll never reach a waiter: the next poll is simply scheduled
after the retry delay (``Retry-After`` honoured).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random

import anyio
from anyio.abc import TaskStatus

from ..errors import ConfigurationError, InvalidResponseError, IQMError, JobAbortedError
from ..jobs import Job, JobPhase, job_phase, outcome_error
from ..models import RunCounts, RunStatus
from ..policies import Failure, PollPolicy, next_poll_slot, paced_until
from ..transport._transport import AttemptFailed, Transport, parse_reply

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
        self._not_due: list[tuple[float, int, Job]] = []  # (due time, entry id, job)
        self._due: list[tuple[tuple[float, float], int, Job]] = []  # (service key, entry, job)
        self._by_age: list[tuple[int, int, Job]] = []  # (seq, entry id, job): head candidates
        self._heads: list[Job] = []  # at most policy.head_jobs, so O(head_jobs) scans are fine
        self._heads_stale = False  # a head may have ended, or an older job may wait now
        self._entries = itertools.count()
        self._wakeup: anyio.Event | None = None
        # The cap's token bucket, as one number (see policies.next_poll_slot).
        self._paced_until: float | None = None
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
        """A wait for ``job`` began: make sure it is scheduled (and maybe made a head job)."""
        if not self._running:
            raise ConfigurationError(
                self._closed_reason
                or "The client is not open: use `async with AsyncIQMClient(...) as client:` "
                "before waiting for jobs."
            )
        self._watched.add(job)
        if job.done:
            return
        if job._entry is None and not job._in_flight:
            self._schedule(job, job._next_poll_at)
        if self._policy.queue_aware and not job._head and not job._in_age_heap:
            job._in_age_heap = True
            heapq.heappush(self._by_age, (job.seq, next(self._entries), job))
            if len(self._heads) < self._policy.head_jobs or job.seq < self._youngest_head().seq:
                self._mark_heads_stale()

    def unwatch(self, job: Job) -> None:
        """A wait for ``job`` ended; once nobody waits, the job drops out of the heaps."""
        if job._waiters <= 0:
            self._watched.discard(job)
            if job._head:
                self._mark_heads_stale()

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

    # --- lifecycle ----------------------------------------------------------------------------

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

    # --- the schedule (no I/O) ----------------------------------------------------------------

    @staticmethod
    def _wanted(job: Job) -> bool:
        """Someone waits for ``job`` and a poll can still tell them something."""
        return job._waiters > 0 and not job.done and job._poll_error is None

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _schedule(self, job: Job, due: float) -> None:
        """Give ``job`` a new entry due at ``due``; an older entry of the job goes stale."""
        entry = next(self._entries)
        job._entry = entry
        job._next_poll_at = due
        heapq.heappush(self._not_due, (due, entry, job))
        if self._not_due[0][1] == entry:
            self._wake()

    def _live(self, entry: int, job: Job) -> bool:
        """True if ``entry`` is the job's current entry and the job is still wanted."""
        if job._entry != entry:
            return False
        if self._wanted(job):
            return True
        job._entry = None  # a later watch() schedules it again
        return False

    def _release_due(self, now: float) -> None:
        """Move the entries due by ``now`` to the heap served in service-key order."""
        while self._not_due and self._not_due[0][0] <= now:
            due, entry, job = heapq.heappop(self._not_due)
            if self._live(entry, job):
                heapq.heappush(self._due, (self._policy.service_key(due, job.seq), entry, job))

    def _next_due(self) -> Job | None:
        """The due job to poll next, dropping stale entries on the way."""
        while self._due:
            _, entry, job = self._due[0]
            if self._live(entry, job):
                return job
            heapq.heappop(self._due)
        return None

    def _next_due_time(self) -> float | None:
        """When the next job falls due (``None``: no job is scheduled)."""
        while self._not_due:
            due, entry, job = self._not_due[0]
            if self._live(entry, job):
                return due
            heapq.heappop(self._not_due)
        return None

    def _youngest_head(self) -> Job:
        return max(self._heads, key=lambda job: job.seq)

    def _mark_heads_stale(self) -> None:
        self._heads_stale = True
        self._wake()

    def _refresh_heads(self, now: float) -> None:
        """Make the ``head_jobs`` oldest wanted jobs the heads; a new head is polled soon."""
        self._heads_stale = False
        limit = self._policy.head_jobs
        for job in [job for job in self._heads if not self._wanted(job)]:
            self._heads.remove(job)
            job._head = False  # a later watch() puts it back among the candidates
        while self._by_age and limit > 0:
            seq, _, job = self._by_age[0]
            if job._head or not self._wanted(job):
                heapq.heappop(self._by_age)
                job._in_age_heap = False
                continue
            if len(self._heads) >= limit:
                youngest = self._youngest_head()
                if youngest.seq <= seq:
                    break
                self._heads.remove(youngest)
                youngest._head = False
            else:
                youngest = None
            heapq.heappop(self._by_age)
            job._in_age_heap = False
            self._promote(job, now)
            if youngest is not None:
                youngest._in_age_heap = True
                heapq.heappush(self._by_age, (youngest.seq, next(self._entries), youngest))

    def _promote(self, job: Job, now: float) -> None:
        job._head = True
        self._heads.append(job)
        if job._in_flight:
            return  # the answer schedules its next poll as a head's
        due = self._policy.head_poll_at(now, job._last_poll_start)
        if job._entry is None or due < job._next_poll_at:
            self._schedule(job, due)

    async def _sleep(self, until: float | None) -> None:
        """Sleep until ``until`` (or forever), or until the schedule changes."""
        event = self._wakeup = anyio.Event()
        delay = math.inf if until is None else until - anyio.current_time()
        with anyio.move_on_after(delay):
            await event.wait()

    # --- the dispatcher -----------------------------------------------------------------------

    async def _dispatch(self, polls: anyio.abc.TaskGroup) -> None:
        pacing = self._policy.pacing
        limiter = self._transport.limiter
        while True:
            now = anyio.current_time()
            if self._heads_stale:
                self._refresh_heads(now)
            self._release_due(now)
            job = self._next_due()
            if job is None:
                await self._sleep(self._next_due_time())
                continue
            slot = next_poll_slot(now, self._paced_until, pacing)
            if slot > now:
                await self._sleep(slot)  # the cap binds: who goes first is decided then
                continue
            heapq.heappop(self._due)
            job._entry = None
            job._in_flight = True
            self.polls_in_flight += 1  # from here: taking a connection slot may yield
            borrower = object()
            try:
                # Take the slot before the start time, so the cap holds at the server.
                await limiter.acquire_on_behalf_of(borrower)
            except BaseException:
                job._in_flight = False
                self.polls_in_flight -= 1
                raise
            if not self._wanted(job):  # its waits ended meanwhile: nobody needs this poll
                limiter.release_on_behalf_of(borrower)
                job._in_flight = False
                self.polls_in_flight -= 1
                continue
            job._last_poll_start = anyio.current_time()
            self._paced_until = paced_until(self._paced_until, job._last_poll_start, pacing)
            self.polls_sent += 1
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
                job._next_poll_at = self._policy.next_poll_at(
                    now, job._polls_done, head=job._head, last_start_s=job._last_poll_start
                )
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
            if job._head and not self._wanted(job):
                self._mark_heads_stale()  # it ended: the next oldest job takes its place
            if self._running and self._wanted(job) and job._entry is None:
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
        # Measurements come as arrays when the reply has the usual form (no list per shot).
        reply = await self._transport.get_result(f"jobs/{job.id}", max_attempts=None)
        result, arrays = reply.result, reply.arrays
        phase = job_phase(result.status)
        if phase is JobPhase.WAITING:
            # The full result lags behind the status endpoint: poll again soon.
            job._next_poll_at = self._policy.next_poll_at(anyio.current_time(), 0)
            return
        if phase is JobPhase.READY and result.measurements is None and arrays is None:
            raise InvalidResponseError(
                f"The result of job {job.id} says 'ready' but has no measurements. Check that "
                "the URL points at a supported IQM server version.",
                url=self._transport.url_for(f"jobs/{job.id}"),
            )
        job._finish(result, outcome_error(job.id, result), arrays, reply.metadata_json)
