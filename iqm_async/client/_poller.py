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

The poller keeps its per-job state in a :class:`_Tracked` record it owns (the job carries it
opaquely); waits and :meth:`Poller.as_completed` go through the poller. It speaks to the server
only through the client's API variant: routes and status words are the variant's business.

Each poll holds a connection slot from the moment its start time is taken, so polls queued
behind busy connections cannot later burst past the cap; polls and result fetches together
hold at most :func:`~iqm_async.policies.poll_connections` of the client's slots, so requests
stuck on a misbehaving server leave room for submits and the caller's own requests. When a
status is terminal the full result is fetched once and the :class:`~iqm_async.jobs.Job` settled;
its waiters wake.
A poll or result fetch runs only while someone waits for its job: when the last waiter
leaves (timeout, cancellation), the request in flight is cancelled.
Transient faults on a poll never reach a waiter: the next poll is simply scheduled after the
retry delay (``Retry-After`` honoured). The one exception is a server that refuses every
connection for long enough (:meth:`~iqm_async.policies.RetryPolicy.server_unreachable`):
then the waits without a timeout end with a :class:`~iqm_async.errors.ConnectError` naming
its URL, rather than waiting in silence.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import anyio
import httpx
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectSendStream

from ..api import ServerAPI
from ..errors import (
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    InvalidResponseError,
    IQMError,
    JobTimeoutError,
)
from ..jobs import Job, outcome_error
from ..models import Metadata
from ..policies import (
    Failure,
    FailureKind,
    PollPolicy,
    expected_wait_s,
    job_seconds_sample,
    next_poll_slot,
    paced_until,
)
from ..results import CircuitCounts, JobResult, JobStatus, counts_from_arrays
from ..transport import AttemptFailed, Transport

logger = logging.getLogger("iqm_async.poller")


@dataclass(eq=False)
class _Tracked:
    """The poller's record of one job: its poll schedule and who waits for it."""

    poller: Poller
    job: Job
    next_poll_at: float  # due time of the live schedule entry
    entry: int | None = None  # id of that entry in the heaps, None if none
    last_poll_start: float | None = None
    polls_done: int = 0
    fault_streak: int = 0  # transient poll faults in a row, for their backoff
    in_flight: bool = False
    head: bool = False  # one of the oldest waiting jobs, polled every head_interval_s
    in_age_heap: bool = False  # has an entry in the heap of jobs by seq
    waiters: int = 0
    untimed_waiters: int = 0  # those of the waiters that set no timeout
    poll_scope: anyio.CancelScope | None = None  # the poll or result fetch in flight
    poll_error: IQMError | None = None  # a non-transient poll fault, for the current waits
    seen_in_queue: tuple[float, int] | None = None  # (time, queue position) of its last poll
    done: anyio.Event | None = None
    listeners: set[MemoryObjectSendStream[Job]] = field(default_factory=set)

    @property
    def seq(self) -> int:
        return self.job.seq

    def done_event(self) -> anyio.Event:
        if self.done is None:
            self.done = anyio.Event()
        return self.done


def _ignore_reply(_reply: httpx.Response) -> None:
    """For requests whose success is all that matters (cancel, delete)."""


class Poller:
    """Polls waiting jobs for one client and implements :class:`~iqm_async.jobs.JobServer`.

    Args:
        transport: the client's HTTP layer.
        api: the server API variant (routes, status words, reply formats); ``None`` until
            the client has asked the server (then :meth:`use_api`).
        policy: when to poll, and the client-wide cap on polls per second.
    """

    def __init__(self, transport: Transport, api: ServerAPI | None, policy: PollPolicy) -> None:
        self._transport = transport
        self._api_or_none = api
        self._policy = policy
        self._not_due: list[tuple[float, int, _Tracked]] = []  # (due time, entry id, record)
        self._due: list[tuple[tuple[float, float], int, _Tracked]] = []  # (service key, ...)
        self._by_age: list[tuple[int, int, _Tracked]] = []  # (seq, entry id, record)
        self._heads: list[_Tracked] = []  # at most policy.head_jobs: O(head_jobs) scans are fine
        self._heads_stale = False  # a head may have ended, or an older job may wait now
        self._entries = itertools.count()
        self._wakeup: anyio.Event | None = None
        # The cap's token bucket, as one number (see policies.next_poll_slot).
        self._paced_until: float | None = None
        self._watched: set[_Tracked] = set()
        self._running = False
        self._scope: anyio.CancelScope | None = None  # made in run(): needs the event loop
        self._closed_reason: str | None = None
        self.job_seconds: float | None = None
        """The time one job takes on the server's QPU, as seen from queue positions moving
        up (a moving average; ``None`` until the server has reported any)."""
        self.polls_sent = 0
        """Status polls started by this poller (retried polls included)."""
        self.polls_in_flight = 0
        """Status polls or result fetches running right now."""

    @property
    def _api(self) -> ServerAPI:
        if self._api_or_none is None:
            raise ConfigurationError("The client is not open: its server API is not known yet.")
        return self._api_or_none

    def use_api(self, api: ServerAPI) -> None:
        """Speak ``api`` (the client tells once it has asked the server which API it has)."""
        self._api_or_none = api

    # --- jobs ---------------------------------------------------------------------------------

    def track(self, job: Job, first_poll_at: float) -> None:
        """Give a new job of this client its record; its first poll is due at
        ``first_poll_at`` (once someone waits)."""
        job._poll_record = _Tracked(self, job, first_poll_at)

    def owns(self, job: Job) -> bool:
        """True if ``job`` belongs to this poller's client."""
        record = job._poll_record
        return isinstance(record, _Tracked) and record.poller is self

    def _record(self, job: Job) -> _Tracked:
        record = job._poll_record
        if not isinstance(record, _Tracked) or record.poller is not self:
            raise ConfigurationError(f"Job {job.id} belongs to another client.")
        return record

    # --- JobServer ----------------------------------------------------------------------------

    async def wait_for(self, job: Job, timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once ``job`` is settled (see :class:`~iqm_async.jobs.JobServer`)."""
        if job.done:
            return
        if timeout is not None and (math.isnan(timeout) or timeout < 0):
            raise ConfigurationError(f"timeout must be None or >= 0 seconds, got {timeout!r}")
        record = self._record(job)
        started = anyio.current_time()
        untimed = timeout is None
        self._begin_wait(record, untimed=untimed)
        try:
            with anyio.move_on_after(timeout):
                await record.done_event().wait()
        finally:
            self._end_wait(record, untimed=untimed)
        if job.done:
            return
        if record.poll_error is not None:
            raise record.poll_error
        raise self._timeout_error(job, started)

    async def as_completed(
        self,
        jobs: Sequence[Job],
        timeout: float | None,  # noqa: ASYNC109 - raises JobTimeoutError naming a job
    ) -> AsyncIterator[Job]:
        """Yield each of ``jobs`` (distinct, of this client) as it ends, soonest first."""
        started = anyio.current_time()
        deadline = None if timeout is None else started + timeout
        send, receive = anyio.create_memory_object_stream[Job](max_buffer_size=len(jobs) + 1)
        registered: list[_Tracked] = []
        remaining = set(jobs)
        try:
            for job in jobs:
                if job.done:
                    send.send_nowait(job)
                    continue
                record = self._record(job)
                record.listeners.add(send)
                self._begin_wait(record, untimed=deadline is None)
                registered.append(record)
            while remaining:
                left = None if deadline is None else deadline - anyio.current_time()
                received: Job | None = None
                with anyio.move_on_after(left):
                    received = await receive.receive()
                if received is None:
                    raise self._timeout_error(next(j for j in jobs if j in remaining), started)
                if received not in remaining:
                    continue  # woken twice (a poll fault, then the end)
                if not received.done:
                    raise self._record(received).poll_error or ConfigurationError(
                        f"The wait for job {received.id} ended without an outcome"
                    )
                remaining.discard(received)
                yield received
        finally:
            for record in registered:
                record.listeners.discard(send)
                self._end_wait(record, untimed=deadline is None)
            send.close()
            receive.close()

    async def fetch_status(self, job_id: str) -> JobStatus:
        """One status read with the client's bounded retries."""
        self._check_open()
        return await self._transport.request(self._api.status_route(job_id), self._api.read_status)

    async def fetch_counts(
        self, job_id: str, result: JobResult | None = None
    ) -> list[CircuitCounts]:
        """The counts of a finished job: counted from ``result`` where the API says its
        measurements hold them (no request), else fetched, transient faults retried until
        cancelled."""
        self._check_open()
        if result is not None and self._api.counts_from_measurements:
            return counts_from_arrays(result.measurement_arrays)
        try:
            return await self._transport.request(
                self._api.counts_route(job_id),
                partial(self._api.read_counts, job_id),
                until_cancelled=True,
                give_up=self._transport.server_unreachable,
            )
        except ConnectError as exc:
            raise self._transport.unreachable_error() or exc from None

    async def fetch_metadata(self, job_id: str, status: JobStatus) -> Metadata:
        """The metadata the API sends apart from the result (bounded retries)."""
        self._check_open()
        route = self._api.metadata_route(job_id)
        if route is None:
            raise InvalidResponseError(f"The result of job {job_id} came without metadata.")
        return await self._transport.request(
            route, partial(self._api.read_metadata, job_id, status=status)
        )

    async def send_cancel(self, job_id: str) -> None:
        """Ask the server to cancel; retried like a read, since cancelling twice changes
        nothing."""
        self._check_open()
        await self._transport.request(self._api.cancel_route(job_id), _ignore_reply)

    async def send_delete(self, job_id: str) -> None:
        """Ask the server to delete the job; retried like a read (idempotent)."""
        self._check_open()
        await self._transport.request(self._api.delete_route(job_id), _ignore_reply)

    # --- waits --------------------------------------------------------------------------------

    def _timeout_error(self, job: Job, started: float) -> JobTimeoutError:
        last = job.last_status
        return JobTimeoutError(job.id, anyio.current_time() - started, last.raw if last else None)

    def _begin_wait(self, record: _Tracked, *, untimed: bool) -> None:
        if self._closed_reason is not None:
            raise ClientClosedError(self._closed_reason)
        if not self._running:
            raise ConfigurationError(
                "The client is not open: use `async with AsyncIQMClient(...) as client:` "
                "before waiting for jobs."
            )
        if record.waiters == 0 and record.poll_error is not None and not record.job.done:
            # A fresh wait after a poll fault starts over.
            record.poll_error = None
            record.done = None
        record.waiters += 1
        record.untimed_waiters += untimed
        self._watch(record)

    def _end_wait(self, record: _Tracked, *, untimed: bool) -> None:
        record.waiters -= 1
        record.untimed_waiters -= untimed
        if record.waiters <= 0:
            self._watched.discard(record)
            if record.poll_scope is not None:
                # Nobody needs its answer: free the connection slot now, not at the deadline.
                record.poll_scope.cancel()
            if record.head:
                self._mark_heads_stale()

    def _watch(self, record: _Tracked) -> None:
        """A wait began: make sure the job is scheduled (and maybe made a head job)."""
        self._watched.add(record)
        if record.job.done:
            return
        if record.entry is None and not record.in_flight:
            self._schedule(record, record.next_poll_at)
        if self._policy.queue_aware and not record.head and not record.in_age_heap:
            record.in_age_heap = True
            heapq.heappush(self._by_age, (record.seq, next(self._entries), record))
            if len(self._heads) < self._policy.head_jobs or record.seq < self._youngest_head().seq:
                self._mark_heads_stale()

    def _wake(self, record: _Tracked) -> None:
        record.done_event().set()
        for stream in list(record.listeners):
            try:
                stream.send_nowait(record.job)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.WouldBlock):
                record.listeners.discard(stream)

    def _settle(self, record: _Tracked, outcome: JobResult | IQMError, status: JobStatus) -> None:
        record.job._settle(outcome, status)
        self._wake(record)

    def _fail_waits(self, record: _Tracked, error: IQMError) -> None:
        """Polling hit a non-transient fault (e.g. 404): end the current waits with it."""
        record.poll_error = error
        self._wake(record)

    def _server_unreachable(self, error: ConnectError) -> None:
        """The server counts as unreachable: end the waits of every job someone waits for
        without a timeout (a wait with a timeout rides it out until then)."""
        for record in list(self._watched):
            if record.untimed_waiters > 0 and not record.job.done and record.poll_error is None:
                self._fail_waits(record, error)

    def _untimed_wait_unreachable(self, record: _Tracked) -> bool:
        """Someone waits for the job without a timeout, and the server counts as unreachable:
        a result fetch stops retrying (see :meth:`_server_unreachable`)."""
        return record.untimed_waiters > 0 and self._transport.server_unreachable()

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
        for record in list(self._watched):
            if not record.job.done:
                self._fail_waits(
                    record, ClientClosedError(f"{reason} (while waiting for job {record.job.id})")
                )
        self._watched.clear()

    def _check_open(self) -> None:
        if self._closed_reason is not None:
            raise ClientClosedError(self._closed_reason)

    # --- the schedule (no I/O) ----------------------------------------------------------------

    @staticmethod
    def _wanted(record: _Tracked) -> bool:
        """Someone waits for the job and a poll can still tell them something."""
        return record.waiters > 0 and not record.job.done and record.poll_error is None

    def _wake_dispatcher(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _schedule(self, record: _Tracked, due: float) -> None:
        """Give the job a new entry due at ``due``; an older entry of the job goes stale."""
        entry = next(self._entries)
        record.entry = entry
        record.next_poll_at = due
        heapq.heappush(self._not_due, (due, entry, record))
        if self._not_due[0][1] == entry:
            self._wake_dispatcher()

    def _live(self, entry: int, record: _Tracked) -> bool:
        """True if ``entry`` is the job's current entry and the job is still wanted."""
        if record.entry != entry:
            return False
        if self._wanted(record):
            return True
        record.entry = None  # a later wait schedules it again
        return False

    def _release_due(self, now: float) -> None:
        """Move the entries due by ``now`` to the heap served in service-key order."""
        while self._not_due and self._not_due[0][0] <= now:
            due, entry, record = heapq.heappop(self._not_due)
            if self._live(entry, record):
                key = self._policy.service_key(due, record.seq)
                heapq.heappush(self._due, (key, entry, record))

    def _next_due(self) -> _Tracked | None:
        """The due job to poll next, dropping stale entries on the way."""
        while self._due:
            _, entry, record = self._due[0]
            if self._live(entry, record):
                return record
            heapq.heappop(self._due)
        return None

    def _next_due_time(self) -> float | None:
        """When the next job falls due (``None``: no job is scheduled)."""
        while self._not_due:
            due, entry, record = self._not_due[0]
            if self._live(entry, record):
                return due
            heapq.heappop(self._not_due)
        return None

    def _youngest_head(self) -> _Tracked:
        return max(self._heads, key=lambda record: record.seq)

    def _mark_heads_stale(self) -> None:
        self._heads_stale = True
        self._wake_dispatcher()

    def _refresh_heads(self, now: float) -> None:
        """Make the ``head_jobs`` oldest wanted jobs the heads; a new head is polled soon."""
        self._heads_stale = False
        limit = self._policy.head_jobs
        for record in [record for record in self._heads if not self._wanted(record)]:
            self._heads.remove(record)
            record.head = False  # a later wait puts it back among the candidates
        while self._by_age and limit > 0:
            seq, _, record = self._by_age[0]
            if record.head or not self._wanted(record):
                heapq.heappop(self._by_age)
                record.in_age_heap = False
                continue
            youngest: _Tracked | None = None
            if len(self._heads) >= limit:
                youngest = self._youngest_head()
                if youngest.seq <= seq:
                    break
                self._heads.remove(youngest)
                youngest.head = False
            heapq.heappop(self._by_age)
            record.in_age_heap = False
            self._promote(record, now)
            if youngest is not None:
                youngest.in_age_heap = True
                heapq.heappush(self._by_age, (youngest.seq, next(self._entries), youngest))

    def _promote(self, record: _Tracked, now: float) -> None:
        record.head = True
        self._heads.append(record)
        if record.in_flight:
            return  # the answer schedules its next poll as a head's
        due = self._policy.head_poll_at(now, record.last_poll_start)
        if record.entry is None or due < record.next_poll_at:
            self._schedule(record, due)

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
        poll_limiter = self._transport.poll_limiter
        while True:
            now = anyio.current_time()
            if self._heads_stale:
                self._refresh_heads(now)
            self._release_due(now)
            record = self._next_due()
            if record is None:
                await self._sleep(self._next_due_time())
                continue
            if self._ended_at_submit(record):
                # Nothing to poll: its result is fetched now, outside the cap on polls.
                heapq.heappop(self._due)
                record.entry = None
                record.in_flight = True
                self.polls_in_flight += 1
                polls.start_soon(self._poll, record, None)
                continue
            slot = next_poll_slot(now, self._paced_until, pacing)
            if slot > now:
                await self._sleep(slot)  # the cap binds: who goes first is decided then
                continue
            heapq.heappop(self._due)
            record.entry = None
            record.in_flight = True
            self.polls_in_flight += 1  # from here: taking a connection slot may yield
            borrower = object()
            try:
                # Take the slot before the start time, so the cap holds at the server. Polls
                # first take one of their own share, so they never hold every connection.
                await poll_limiter.acquire_on_behalf_of(borrower)
                try:
                    await limiter.acquire_on_behalf_of(borrower)
                except BaseException:
                    poll_limiter.release_on_behalf_of(borrower)
                    raise
            except BaseException:
                record.in_flight = False
                self.polls_in_flight -= 1
                raise
            if not self._wanted(record):  # its waits ended meanwhile: nobody needs this poll
                limiter.release_on_behalf_of(borrower)
                poll_limiter.release_on_behalf_of(borrower)
                record.in_flight = False
                self.polls_in_flight -= 1
                continue
            record.last_poll_start = anyio.current_time()
            self._paced_until = paced_until(self._paced_until, record.last_poll_start, pacing)
            self.polls_sent += 1
            polls.start_soon(self._poll, record, borrower)

    @staticmethod
    def _ended_at_submit(record: _Tracked) -> bool:
        """The submit reply said the job had ended, and it has not been polled since."""
        known = record.job.last_status
        return record.polls_done == 0 and known is not None and known.done

    async def _poll(self, record: _Tracked, borrower: object | None) -> None:
        """Poll the job (holding ``borrower``'s connection slots), or, with no borrower, go
        on from the terminal status its submit reply gave. Cancelled when its job's last
        waiter leaves (:meth:`_end_wait`)."""
        with anyio.CancelScope() as scope:
            record.poll_scope = scope
            try:
                await self._poll_in_scope(record, borrower)
            finally:
                record.poll_scope = None

    async def _poll_in_scope(self, record: _Tracked, borrower: object | None) -> None:
        job = record.job
        try:
            reply: JobStatus | Failure
            if borrower is None:
                assert job.last_status is not None
                reply = job.last_status
            else:
                try:
                    reply = await self._status_once(job.id)
                finally:
                    self._transport.limiter.release_on_behalf_of(borrower)
                    self._transport.poll_limiter.release_on_behalf_of(borrower)
            now = anyio.current_time()
            if isinstance(reply, Failure):
                record.fault_streak += 1
                record.next_poll_at = now + self._transport.retry.delay_s(
                    reply, record.fault_streak, random.random()
                )
                unreachable = (
                    self._transport.unreachable_error()
                    if reply.kind is FailureKind.CONNECT
                    else None
                )
                if unreachable is not None:
                    self._server_unreachable(unreachable)
                return
            record.fault_streak = 0
            job._observe(reply)
            record.polls_done += 1
            if reply.done:
                job.terminal_seen_at = now
                await self._finish(record, reply)
            else:
                self._learn_job_seconds(record, reply, now)
                record.next_poll_at = self._policy.next_poll_at(
                    now,
                    record.polls_done,
                    head=record.head,
                    last_start_s=record.last_poll_start,
                    expected_wait_s=expected_wait_s(reply.queue_position, self.job_seconds),
                )
        except ConnectError as exc:  # a result fetch gave up on an unreachable server
            unreachable = self._transport.unreachable_error()
            if unreachable is None:
                self._fail_waits(record, exc)
            else:
                self._server_unreachable(unreachable)
                self._fail_waits(record, unreachable)
        except IQMError as exc:
            self._fail_waits(record, exc)
        except Exception as exc:  # a bug must not kill the poller; the waiters get told
            logger.exception("Unexpected error while polling job %s", job.id)
            self._fail_waits(record, InvalidResponseError(f"Polling job {job.id} failed: {exc!r}"))
        finally:
            self.polls_in_flight -= 1
            record.in_flight = False
            if record.head and not self._wanted(record):
                self._mark_heads_stale()  # it ended: the next oldest job takes its place
            if self._running and self._wanted(record) and record.entry is None:
                self._schedule(record, record.next_poll_at)

    def _learn_job_seconds(self, record: _Tracked, status: JobStatus, now: float) -> None:
        """A queued job moved up: learn how long one job takes (moving average)."""
        if status.queue_position is None:
            record.seen_in_queue = None
            return
        seen = (now, status.queue_position)
        if record.seen_in_queue is not None:
            sample = job_seconds_sample(record.seen_in_queue, seen)
            if sample is not None:
                old = self.job_seconds
                self.job_seconds = sample if old is None else 0.7 * old + 0.3 * sample
        record.seen_in_queue = seen

    async def _status_once(self, job_id: str) -> JobStatus | Failure:
        """One status poll; a transient fault comes back as its :class:`Failure`."""
        try:
            response = await self._transport.send_once(
                self._api.status_route(job_id), limited=False
            )
        except AttemptFailed as exc:
            if self._transport.retry.is_transient(exc.failure, waiting=True):
                return exc.failure
            raise exc.error from None
        return self._api.read_status(response)

    async def _finish(self, record: _Tracked, status: JobStatus) -> None:
        """The status is terminal: fetch the result once (if the API has one to fetch) and
        settle the job."""
        job = record.job
        route = self._api.result_route(job.id, status)
        if route is not None:
            try:
                reply = await self._transport.request(
                    route,
                    partial(self._api.read_result, job.id, status=status),
                    until_cancelled=True,
                    give_up=partial(self._untimed_wait_unreachable, record),
                    background=True,
                )
            except InvalidResponseError as exc:
                # The job has ended and its result cannot be read: that is its outcome, for
                # every wait (as_completed included), not a reason to poll it again.
                self._settle(record, exc, status)
                return
            if isinstance(reply, JobResult):
                self._settle(record, reply, reply.status)
                return
            if not reply.done:
                # The full result lags behind the status: poll again soon.
                record.next_poll_at = self._policy.next_poll_at(anyio.current_time(), 0)
                return
            status = reply
        error = outcome_error(job.id, status) or InvalidResponseError(
            f"Job {job.id} completed, but the server API gave no result to fetch."
        )
        self._settle(record, error, status)
