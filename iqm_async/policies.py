"""Decisions without I/O: when to retry a request, how long to wait, when to poll a job.

Everything here is a plain value or a plain function, tested without an event loop. The
async code in ``client`` and ``jobs`` only sends, sleeps and waits on what these decide.

- :class:`RetryPolicy`: which failures are retried, for reads and for job submissions, the
  delay before the next attempt (``Retry-After`` capped, else exponential backoff with
  jitter), and when a server that refuses every connection counts as unreachable.
- :func:`poll_connections`: how many of a client's connections its polls may hold at once.
- :class:`PollPolicy`: each waiting job's next poll time (fast at first, backing off to a cap;
  the oldest waiting jobs polled every ``head_interval_s``), the order of due polls when the
  client-wide cap on polls per second binds (oldest job first), and that cap.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass, field
from enum import Enum

from .errors import ConfigurationError

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "SUBMIT_RETRY_STATUSES",
    "WAIT_RETRY_STATUSES",
    "Failure",
    "FailureKind",
    "PollPolicy",
    "RetryPolicy",
    "next_poll_slot",
    "paced_until",
    "parse_retry_after",
    "poll_connections",
]

DEFAULT_RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
"""Statuses after which a read (GET) is tried again."""

WAIT_RETRY_STATUSES = DEFAULT_RETRY_STATUSES | {500}
"""Statuses a wait for a known job rides out: its GETs are safe to repeat, and the wait's own
deadline bounds them, so a flaky server delays the result instead of losing it."""

SUBMIT_RETRY_STATUSES = frozenset({429, 503})
"""Statuses that prove a submission was refused unprocessed, so resending cannot duplicate it."""


class FailureKind(str, Enum):
    """How one HTTP attempt failed."""

    CONNECT = "connect"
    """No connection was made (or none was free): the request never left the client."""
    TIMEOUT = "timeout"
    """The request was (maybe partly) sent and no answer came in time."""
    DROPPED = "dropped"
    """The connection broke after the request was sent, before a complete answer."""
    STATUS = "status"
    """The server answered with an error status."""


@dataclass(frozen=True)
class Failure:
    """One failed HTTP attempt, reduced to what the retry decision needs.

    Attributes:
        kind: how the attempt failed.
        status_code: the HTTP status for :attr:`FailureKind.STATUS`, else ``None``.
        retry_after_s: the server's ``Retry-After`` in seconds, when it sent one.
    """

    kind: FailureKind
    status_code: int | None = None
    retry_after_s: float | None = None


def parse_retry_after(value: str | None, *, now_epoch_s: float) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP date, as seconds from now.

    Returns ``None`` for a missing or unreadable value; a date in the past gives ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - now_epoch_s
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How requests are retried. All times in seconds.

    Reads (GET, and the idempotent abort) are retried on connection errors, timeouts,
    dropped connections and on ``retry_statuses``. A job submission is retried only when the
    server cannot have acted on it: a connection error, or a status in
    ``submit_retry_statuses`` (refused unprocessed). Any other submit failure is reported as
    possibly submitted, never resent.

    Attributes:
        max_attempts: attempts per call, the first included (default 5). Waiting for a job
            whose id is known is not bounded by this: it retries until its own deadline.
        initial_backoff_s: delay before the second attempt (default 0.25 s).
        backoff_multiplier: growth of the delay per attempt (default 2).
        max_backoff_s: cap of the exponential delay (default 8 s).
        jitter_fraction: the delay is drawn uniformly within +- this fraction (default 0.25),
            so many clients refused at once do not come back at once.
        max_retry_after_s: cap on a server's ``Retry-After`` (default 30 s).
        retry_statuses: statuses a read is retried on (default 408, 429, 502, 503, 504).
        wait_retry_statuses: statuses the polls and result fetches of a wait for a known job
            ride out (default: those and 500).
        submit_retry_statuses: statuses a submit is retried on (default 429, 503).
        unreachable_after_failures: connection attempts in a row that must fail (no answer
            of any kind in between) before the server counts as unreachable (default 5).
        unreachable_after_s: and for how long they must have failed, in seconds (default
            30 s, so a server restart is ridden out). Then waits without a timeout end with
            a :class:`~iqm_async.errors.ConnectError` naming the URL instead of waiting in
            silence (see :meth:`server_unreachable`).
    """

    max_attempts: int = 5
    initial_backoff_s: float = 0.25
    backoff_multiplier: float = 2.0
    max_backoff_s: float = 8.0
    jitter_fraction: float = 0.25
    max_retry_after_s: float = 30.0
    retry_statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    wait_retry_statuses: frozenset[int] = field(default=WAIT_RETRY_STATUSES)
    submit_retry_statuses: frozenset[int] = field(default=SUBMIT_RETRY_STATUSES)
    unreachable_after_failures: int = 5
    unreachable_after_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_attempts", "unreachable_after_failures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"RetryPolicy.{name} must be an int >= 1, got {value!r}")
        for name in (
            "initial_backoff_s",
            "max_backoff_s",
            "max_retry_after_s",
            "unreachable_after_s",
        ):
            value = getattr(self, name)
            if not value >= 0 or math.isinf(value):
                raise ConfigurationError(
                    f"RetryPolicy.{name} must be a finite number >= 0 seconds, got {value!r}"
                )
        if not self.backoff_multiplier >= 1:
            raise ConfigurationError(
                f"RetryPolicy.backoff_multiplier must be >= 1, got {self.backoff_multiplier!r}"
            )
        if not 0 <= self.jitter_fraction <= 1:
            raise ConfigurationError(
                f"RetryPolicy.jitter_fraction must be within [0, 1], got {self.jitter_fraction!r}"
            )
        unsafe = set(self.submit_retry_statuses) - set(SUBMIT_RETRY_STATUSES)
        if unsafe:
            raise ConfigurationError(
                "RetryPolicy.submit_retry_statuses may only contain "
                f"{sorted(SUBMIT_RETRY_STATUSES)}: after {sorted(unsafe)} the server may have "
                "created the job, and resending could run it twice."
            )

    def is_transient(self, failure: Failure, *, waiting: bool = False) -> bool:
        """True if a read that failed like this may succeed when tried again.

        ``waiting=True`` for the reads of a wait for a known job (``wait_retry_statuses``).
        """
        if failure.kind is FailureKind.STATUS:
            statuses = self.wait_retry_statuses if waiting else self.retry_statuses
            return failure.status_code in statuses
        return True

    def submit_retryable(self, failure: Failure) -> bool:
        """True if a submission that failed like this provably did not reach the job queue."""
        if failure.kind is FailureKind.CONNECT:
            return True
        return failure.kind is FailureKind.STATUS and (
            failure.status_code in self.submit_retry_statuses
        )

    def submit_uncertain(self, failure: Failure) -> bool:
        """True if a failed submission may have created a job (so it must not be resent).

        Timeouts, dropped connections and 5xx answers other than 503 leave that open.
        A connection error, a 429/503 refusal or another 4xx answer prove it did not.
        """
        if failure.kind is FailureKind.CONNECT:
            return False
        if failure.kind is FailureKind.STATUS:
            code = failure.status_code or 0
            return code >= 500 and code not in self.submit_retry_statuses
        return True

    def should_retry(
        self, failure: Failure, attempt: int, *, submit: bool = False, unbounded: bool = False
    ) -> bool:
        """Decide whether to make attempt ``attempt + 1`` after ``failure`` on attempt ``attempt``.

        ``attempt`` counts from 1. ``submit=True`` applies the submission rule.
        ``unbounded=True`` for the reads of a wait for a known job: they ride out
        ``wait_retry_statuses`` and are not limited to ``max_attempts`` (the wait's own
        deadline bounds them).
        """
        if submit:
            return attempt < self.max_attempts and self.submit_retryable(failure)
        if not unbounded and attempt >= self.max_attempts:
            return False
        return self.is_transient(failure, waiting=unbounded)

    def server_unreachable(self, failures: int, failing_for_s: float) -> bool:
        """True once a server counts as unreachable: ``failures`` connection attempts in a row
        failed (none answered in between), the first ``failing_for_s`` seconds ago, and both
        reach their thresholds (``unreachable_after_failures``, ``unreachable_after_s``).

        The count keeps one unlucky moment from condemning a server; the time keeps a busy
        client, whose many polls fail within a second, from giving up during a restart.
        """
        return failures >= self.unreachable_after_failures and (
            failing_for_s >= self.unreachable_after_s
        )

    def backoff_s(self, attempt: int, random_unit: float) -> float:
        """Exponential delay after attempt ``attempt`` (from 1), jittered by ``random_unit``.

        ``random_unit`` is a number in [0, 1) (pass ``random.random()``); 0.5 means no jitter.
        """
        base = self.initial_backoff_s * self.backoff_multiplier ** max(0, attempt - 1)
        base = min(base, self.max_backoff_s)
        return max(0.0, base * (1.0 + self.jitter_fraction * (2.0 * random_unit - 1.0)))

    def delay_s(self, failure: Failure, attempt: int, random_unit: float) -> float:
        """Seconds to wait before the next attempt: the capped ``Retry-After`` if the server
        sent one, else :meth:`backoff_s`."""
        if failure.retry_after_s is not None:
            return min(failure.retry_after_s, self.max_retry_after_s)
        return self.backoff_s(attempt, random_unit)


@dataclass(frozen=True)
class PollPolicy:
    """When to poll a job's status while someone waits for it. All times in seconds.

    Each waiting job has its own next poll time: the first poll comes ``initial_interval_s``
    after the submit, and each further interval is ``backoff_factor`` times the previous, up
    to ``max_interval_s``. Jobs nobody waits for are not polled. Whatever the number of jobs,
    the client starts at most ``max_polls_per_s`` status polls in any one-second window: a
    burst of up to a tenth of the cap goes at once, and a steady stream runs at nine tenths of
    it (see :attr:`pacing`).

    Polling is queue-aware: a QPU finishes jobs roughly in submission order, so the job most
    likely to end next is the oldest one still waiting. The ``head_jobs`` oldest waiting jobs
    of the client (by creation order, see :meth:`service_key`) are polled at least every
    ``head_interval_s``, whatever their backoff says, and when the cap binds, due jobs are
    served oldest first. With 1,000 jobs queued on one QPU this brings each result to its
    caller about ``head_interval_s`` after the job ends instead of seconds later.

    The cost: a job alone is polled every ``head_interval_s``, so one 2 s job takes about 20
    status polls (about 8 with ``head_jobs=0``), at most ``head_jobs / head_interval_s`` polls
    per second (10/s by default) whatever the number of jobs. The price of oldest-first under
    a binding cap: younger jobs may go unpolled while older ones wait, so a young job that
    ends early (e.g. one rejected at compilation) is noticed late.

    Attributes:
        initial_interval_s: delay of the first poll (default 0.05 s).
        backoff_factor: growth of the interval per poll (default 1.5).
        max_interval_s: the longest interval between two polls of one job (default 2 s).
        max_polls_per_s: client-wide cap on status polls started in any one-second window
            (default 50; ``math.inf`` for no cap).
        head_jobs: how many of the oldest waiting jobs are polled every ``head_interval_s``
            (default 1; keep it small, each costs up to ``1 / head_interval_s`` polls per
            second). ``0`` turns queue-aware polling off: no head jobs, and due jobs are
            served earliest-due first (the schedule before queue-aware polling).
        head_interval_s: the longest time between the starts of two polls of a head job
            (default 0.1 s).
        queue_position_polling: where the server reports a job's queue position, poll a job
            far back in the queue rarely: ``queued_wait_fraction`` of its expected wait (the
            jobs ahead of it times the job duration the poller has observed) after each
            poll, at most ``max_queued_interval_s`` (default True). The oldest waiting jobs
            are still polled every ``head_interval_s``, so on a first-in first-out queue a
            result is as quick to arrive as without it.
        queued_wait_fraction: see ``queue_position_polling`` (default 0.9).
        max_queued_interval_s: the longest interval between two polls of a queued job
            (default 30 s).
    """

    initial_interval_s: float = 0.05
    backoff_factor: float = 1.5
    max_interval_s: float = 2.0
    max_polls_per_s: float = 50.0
    head_jobs: int = 1
    head_interval_s: float = 0.1
    queue_position_polling: bool = True
    queued_wait_fraction: float = 0.9
    max_queued_interval_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.initial_interval_s <= self.max_interval_s or math.isinf(
            self.max_interval_s
        ):
            raise ConfigurationError(
                "PollPolicy needs 0 <= initial_interval_s <= max_interval_s < inf, got "
                f"{self.initial_interval_s!r} and {self.max_interval_s!r}"
            )
        if not self.backoff_factor >= 1:
            raise ConfigurationError(
                f"PollPolicy.backoff_factor must be >= 1, got {self.backoff_factor!r}"
            )
        if not self.max_polls_per_s > 0:
            raise ConfigurationError(
                f"PollPolicy.max_polls_per_s must be > 0 (math.inf for no cap), "
                f"got {self.max_polls_per_s!r}"
            )
        if (
            isinstance(self.head_jobs, bool)
            or not isinstance(self.head_jobs, int)
            or self.head_jobs < 0
        ):
            raise ConfigurationError(
                f"PollPolicy.head_jobs must be an int >= 0 (0 turns head polling off), "
                f"got {self.head_jobs!r}"
            )
        if not 0 < self.queued_wait_fraction <= 1:
            raise ConfigurationError(
                "PollPolicy.queued_wait_fraction must be within (0, 1], got "
                f"{self.queued_wait_fraction!r}"
            )
        if not self.max_interval_s <= self.max_queued_interval_s < math.inf:
            raise ConfigurationError(
                "PollPolicy.max_queued_interval_s must be finite and >= max_interval_s, got "
                f"{self.max_queued_interval_s!r}"
            )
        if not 0 < self.head_interval_s < math.inf:
            raise ConfigurationError(
                f"PollPolicy.head_interval_s must be a finite number > 0 seconds, "
                f"got {self.head_interval_s!r}"
            )

    @property
    def pacing(self) -> tuple[float, float]:
        """``(interval_s, burst_s)`` of the cap's token bucket (see :func:`next_poll_slot`).

        A burst of ``B = max(1, cap // 10)`` polls may start at once; after it, starts come
        every ``1 / (cap - B)`` seconds, so any one-second window holds at most
        ``B + (cap - B) = cap`` starts. The steady stream stays a tenth below the cap, which
        leaves room for requests that reach the server unevenly late. With ``B = 1`` (caps
        below 20) starts are simply spaced ``1 / cap`` apart. ``(0.0, 0.0)`` for no cap.
        """
        cap = self.max_polls_per_s
        if math.isinf(cap):
            return 0.0, 0.0
        burst = max(1, int(cap // 10))
        if burst == 1:
            return 1.0 / cap, 0.0
        interval = 1.0 / (cap - burst)
        return interval, (burst - 1) * interval

    @property
    def queue_aware(self) -> bool:
        """True when head jobs are polled fast and due jobs are served oldest first."""
        return self.head_jobs > 0

    def interval_s(self, polls_done: int) -> float:
        """The wait before the next poll of a job that has been polled ``polls_done`` times."""
        exponent = max(0, polls_done)
        # Past ~60 doublings the cap has long been reached; avoid float overflow.
        if exponent > 60:
            return self.max_interval_s
        return min(self.max_interval_s, self.initial_interval_s * self.backoff_factor**exponent)

    def head_poll_at(self, now_s: float, last_start_s: float | None) -> float:
        """The latest time a head job may be polled next: ``head_interval_s`` after its last
        poll started, but not before ``now_s``; ``head_interval_s`` from now if it was never
        polled (a new job's first backoff poll usually comes sooner)."""
        if last_start_s is None:
            return now_s + self.head_interval_s
        return max(now_s, last_start_s + self.head_interval_s)

    def next_poll_at(
        self,
        now_s: float,
        polls_done: int,
        *,
        head: bool = False,
        last_start_s: float | None = None,
        expected_wait_s: float | None = None,
    ) -> float:
        """The time of a job's next poll, given the clock now and its polls so far.

        Args:
            now_s: the clock now (the poll's answer just came), seconds.
            polls_done: status polls of this job answered so far.
            head: the job is one of the ``head_jobs`` oldest waiting jobs; then the poll
                comes no later than :meth:`head_poll_at`.
            last_start_s: when the job's last poll started (for ``head``), seconds.
            expected_wait_s: how long the job will likely wait in the server's queue (see
                :func:`expected_wait_s`), if known; with ``queue_position_polling`` the next
                poll comes after ``queued_wait_fraction`` of it, if that is later than the
                backoff.
        """
        interval = self.interval_s(polls_done)
        if self.queue_position_polling and expected_wait_s is not None:
            queued = min(expected_wait_s * self.queued_wait_fraction, self.max_queued_interval_s)
            interval = max(interval, queued)
        backoff = now_s + interval
        if not head or not self.queue_aware:
            return backoff
        return min(backoff, self.head_poll_at(now_s, last_start_s))

    def service_key(self, due_s: float, seq: int) -> tuple[float, float]:
        """The order in which due jobs are polled when the cap makes them queue (lowest first).

        ``seq`` is the job's creation number in its client (0, 1, 2, ... as jobs are
        submitted or attached), ``due_s`` the time its poll fell due. Queue-aware: oldest
        job first, since it is the most likely to have ended. With ``head_jobs=0``: the job
        due longest first.
        """
        if self.queue_aware:
            return (float(seq), due_s)
        return (due_s, float(seq))


def poll_connections(max_connections: int) -> int:
    """How many of a client's ``max_connections`` its poller (status polls and result
    fetches) may hold at once.

    A quarter of the connections (at least one) is kept from the poller, so that polls stuck
    on a misbehaving server (a status reply that trickles in, say) never keep a submit or the
    caller's own requests (architecture, counts, abort) from a connection. A client with one
    connection cannot keep one back: its poller may use it.
    """
    if max_connections <= 1:
        return 1
    return max_connections - max(1, max_connections // 4)


def next_poll_slot(due_s: float, paced_until_s: float | None, pacing: tuple[float, float]) -> float:
    """The earliest time a poll due at ``due_s`` may start under the global rate cap.

    A token bucket kept as one number (the generic cell rate algorithm): ``paced_until_s`` is
    where the steady stream of starts has got to (None before the first), ``pacing`` is
    :attr:`PollPolicy.pacing`. A poll may start ``burst_s`` before that point; after it
    starts at ``t``, the point moves to ``max(paced_until_s, t) + interval_s`` (see
    :func:`paced_until`).
    """
    if paced_until_s is None:
        return due_s
    return max(due_s, paced_until_s - pacing[1])


def paced_until(paced_until_s: float | None, start_s: float, pacing: tuple[float, float]) -> float:
    """Where the steady stream of starts has got to after a poll started at ``start_s``."""
    return max(paced_until_s if paced_until_s is not None else start_s, start_s) + pacing[0]


def expected_wait_s(queue_position: int | None, job_s: float | None) -> float | None:
    """How long a job with ``queue_position`` jobs ahead of it (0 = next) will likely wait:
    those jobs times ``job_s``, the observed time one job takes; ``None`` when either is
    unknown."""
    if queue_position is None or job_s is None or queue_position < 0:
        return None
    return queue_position * job_s


def job_seconds_sample(earlier: tuple[float, int], later: tuple[float, int]) -> float | None:
    """The time one job took, from a queued job seen at ``(time, position)`` twice: the
    elapsed time over the places it moved up; ``None`` if it did not move up."""
    moved = earlier[1] - later[1]
    if moved <= 0 or later[0] <= earlier[0]:
        return None
    return (later[0] - earlier[0]) / moved
