"""Retry and poll decisions, and job-status phases: pure functions, no event loop."""

from __future__ import annotations

import math
import random

import pytest

from iqm_async.api.cocos import job_status
from iqm_async.api.cocos_wire import Status
from iqm_async.errors import ConfigurationError, JobAbortedError, JobFailedError
from iqm_async.jobs import outcome_error
from iqm_async.policies import (
    Failure,
    FailureKind,
    PollPolicy,
    RetryPolicy,
    next_poll_slot,
    paced_until,
    parse_retry_after,
)
from iqm_async.results import JobPhase, JobStatus

CONNECT = Failure(FailureKind.CONNECT)
TIMEOUT = Failure(FailureKind.TIMEOUT)
DROPPED = Failure(FailureKind.DROPPED)


def status(code: int, retry_after: float | None = None) -> Failure:
    return Failure(FailureKind.STATUS, code, retry_after)


# --- Retry-After ------------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("3", now_epoch_s=0) == 3.0
    assert parse_retry_after(" 0.5 ", now_epoch_s=0) == 0.5
    assert parse_retry_after("-4", now_epoch_s=0) == 0.0
    # 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now_epoch_s=784111770) == 7.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now_epoch_s=784111800) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
def test_retry_after_unreadable_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now_epoch_s=0) is None


# --- what is retried --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [CONNECT, TIMEOUT, DROPPED, *map(status, (408, 429, 502, 503, 504))]
)
def test_reads_retry_transient_faults(failure: Failure) -> None:
    assert RetryPolicy().is_transient(failure)
    assert RetryPolicy().should_retry(failure, 1)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 500])
def test_reads_do_not_retry_other_statuses(code: int) -> None:
    assert not RetryPolicy().is_transient(status(code))
    assert not RetryPolicy().should_retry(status(code), 1)


def test_waits_for_a_known_job_also_ride_out_500() -> None:
    policy = RetryPolicy()
    assert policy.is_transient(status(500), waiting=True)
    assert policy.is_transient(status(502), waiting=True)
    assert not policy.is_transient(status(404), waiting=True)
    assert not policy.is_transient(status(401), waiting=True)


def test_submit_retried_only_when_the_server_cannot_have_acted() -> None:
    policy = RetryPolicy()
    assert policy.should_retry(CONNECT, 1, submit=True)
    assert policy.should_retry(status(429), 1, submit=True)
    assert policy.should_retry(status(503), 1, submit=True)
    for failure in (TIMEOUT, DROPPED, status(500), status(502), status(504), status(408)):
        assert not policy.should_retry(failure, 1, submit=True), failure


def test_submit_uncertainty() -> None:
    policy = RetryPolicy()
    for failure in (TIMEOUT, DROPPED, status(500), status(502), status(504), status(599)):
        assert policy.submit_uncertain(failure), failure
    for failure in (CONNECT, status(429), status(503), status(400), status(401), status(404)):
        assert not policy.submit_uncertain(failure), failure


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(CONNECT, 2)
    assert not policy.should_retry(CONNECT, 3)
    assert not RetryPolicy(max_attempts=1).should_retry(CONNECT, 1)
    assert policy.should_retry(CONNECT, 2, submit=True)
    assert not policy.should_retry(CONNECT, 3, submit=True)


def test_unbounded_waits_ignore_max_attempts_and_ride_out_500() -> None:
    policy = RetryPolicy(max_attempts=3)
    for failure in (CONNECT, TIMEOUT, DROPPED, status(500), status(502), status(429)):
        assert policy.should_retry(failure, 1000, unbounded=True), failure
    assert not policy.should_retry(status(500), 1)  # a bounded read does not retry 500
    for failure in (status(404), status(401), status(400)):
        assert not policy.should_retry(failure, 1, unbounded=True), failure


def test_unsafe_submit_statuses_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="run it twice"):
        RetryPolicy(submit_retry_statuses=frozenset({502}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_backoff_s": -1.0},
        {"max_backoff_s": math.inf},
        {"backoff_multiplier": 0.5},
        {"jitter_fraction": 1.5},
        {"max_retry_after_s": math.nan},
    ],
)
def test_bad_retry_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- how long to wait -------------------------------------------------------------------------


def test_backoff_grows_exponentially_to_a_cap() -> None:
    policy = RetryPolicy(initial_backoff_s=0.25, backoff_multiplier=2, max_backoff_s=1.0)
    no_jitter = 0.5
    assert [policy.backoff_s(n, no_jitter) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(initial_backoff_s=1.0, jitter_fraction=0.25)
    assert policy.backoff_s(1, 0.0) == pytest.approx(0.75)
    assert policy.backoff_s(1, 0.999999) == pytest.approx(1.25, abs=1e-5)


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=5.0)
    assert policy.delay_s(status(503, 2.0), 1, 0.9) == 2.0
    assert policy.delay_s(status(429, 600.0), 1, 0.9) == 5.0
    assert policy.delay_s(status(429), 1, 0.5) == policy.backoff_s(1, 0.5)


# --- polling ----------------------------------------------------------------------------------


def test_poll_interval_starts_fast_and_backs_off_to_the_cap() -> None:
    policy = PollPolicy(initial_interval_s=0.05, backoff_factor=2, max_interval_s=0.3)
    assert [policy.interval_s(n) for n in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    assert policy.interval_s(10_000) == 0.3
    assert policy.next_poll_at(100.0, 1) == pytest.approx(100.1)


def run_starts(policy: PollPolicy, dues: list[float]) -> list[float]:
    """Start times the dispatcher would give polls due at ``dues`` (served in that order)."""
    starts: list[float] = []
    paced: float | None = None
    for due in dues:
        start = next_poll_slot(max(due, starts[-1] if starts else due), paced, policy.pacing)
        paced = paced_until(paced, start, policy.pacing)
        starts.append(start)
    return starts


def busiest_second(starts: list[float]) -> int:
    return max(sum(1 for s in starts if t <= s < t + 1.0 - 1e-9) for t in starts)


@pytest.mark.parametrize("cap", [5.0, 20.0, 50.0, 200.0])
def test_the_cap_holds_in_every_second_whatever_the_load(cap: float) -> None:
    policy = PollPolicy(max_polls_per_s=cap)
    all_at_once = run_starts(policy, [0.0] * int(cap * 4))
    rng = random.Random(3)
    uneven = sorted(rng.uniform(0, 5) for _ in range(int(cap * 4)))
    idle_then_busy = [0.0] * 3 + [2.0] * int(cap * 3)
    for starts in (all_at_once, run_starts(policy, uneven), run_starts(policy, idle_then_busy)):
        assert busiest_second(starts) <= cap


def test_a_small_burst_goes_at_once_then_starts_are_paced() -> None:
    policy = PollPolicy(max_polls_per_s=50)
    interval, burst = policy.pacing
    assert interval == pytest.approx(1 / 45) and burst == pytest.approx(4 / 45)
    starts = run_starts(policy, [0.0] * 8)
    assert starts[:5] == [0.0] * 5  # a tenth of the cap at once (e.g. 5 jobs ending together)
    assert starts[5:] == pytest.approx([interval, 2 * interval, 3 * interval])
    # After a quiet second the bucket is full again.
    assert run_starts(policy, [0.0] * 5 + [10.0] * 5)[5:] == [10.0] * 5


@pytest.mark.parametrize(
    ("cap", "pacing"),
    [(math.inf, (0.0, 0.0)), (10.0, (0.1, 0.0)), (0.5, (2.0, 0.0)), (200.0, (1 / 180, 19 / 180))],
)
def test_pacing(cap: float, pacing: tuple[float, float]) -> None:
    assert PollPolicy(max_polls_per_s=cap).pacing == pytest.approx(pacing)


def test_no_cap_means_no_wait() -> None:
    policy = PollPolicy(max_polls_per_s=math.inf)
    assert run_starts(policy, [3.0] * 1000) == [3.0] * 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_interval_s": 3.0, "max_interval_s": 2.0},
        {"initial_interval_s": -0.1},
        {"max_interval_s": math.inf},
        {"backoff_factor": 0.9},
        {"max_polls_per_s": 0},
    ],
)
def test_bad_poll_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="PollPolicy"):
        PollPolicy(**kwargs)


# --- queue-aware polling ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"head_jobs": -1}, "head_jobs.*-1"),
        ({"head_jobs": 1.5}, "head_jobs.*1.5"),
        ({"head_jobs": True}, "head_jobs.*True"),
        ({"head_interval_s": 0.0}, "head_interval_s.*0.0"),
        ({"head_interval_s": -0.1}, "head_interval_s.*-0.1"),
        ({"head_interval_s": math.inf}, "head_interval_s.*inf"),
        ({"head_interval_s": math.nan}, "head_interval_s.*nan"),
    ],
)
def test_bad_head_settings_name_the_field_and_value(kwargs: dict[str, object], shown: str) -> None:
    with pytest.raises(ConfigurationError, match=f"PollPolicy.{shown}"):
        PollPolicy(**kwargs)  # type: ignore[arg-type]


def test_head_defaults_and_the_switch_off() -> None:
    assert PollPolicy().head_jobs == 1
    assert PollPolicy().head_interval_s == 0.1
    assert PollPolicy().queue_aware
    assert not PollPolicy(head_jobs=0).queue_aware
    assert PollPolicy(head_jobs=3).queue_aware


def test_head_job_is_polled_every_head_interval_whatever_its_backoff() -> None:
    policy = PollPolicy(head_interval_s=0.1, max_interval_s=2.0)
    # Deep into its backoff a job waits 2 s; as a head it waits 0.1 s from its last start.
    assert policy.next_poll_at(50.0, 20) == pytest.approx(52.0)
    assert policy.next_poll_at(50.0, 20, head=True, last_start_s=49.99) == pytest.approx(50.09)
    # An answer slower than the interval: poll again now, not in the past.
    assert policy.next_poll_at(50.0, 20, head=True, last_start_s=49.5) == 50.0
    # A shorter backoff still wins.
    assert policy.next_poll_at(50.0, 0, head=True, last_start_s=49.99) == pytest.approx(50.05)


def test_head_interval_is_ignored_when_switched_off() -> None:
    policy = PollPolicy(head_jobs=0)
    assert policy.next_poll_at(50.0, 20, head=True, last_start_s=49.99) == pytest.approx(52.0)


def test_a_new_head_is_polled_within_head_interval() -> None:
    policy = PollPolicy(head_interval_s=0.1)
    assert policy.head_poll_at(10.0, None) == pytest.approx(10.1)  # never polled
    assert policy.head_poll_at(10.0, 9.97) == pytest.approx(10.07)  # polled 30 ms ago
    assert policy.head_poll_at(10.0, 3.0) == 10.0  # polled long ago: now


def test_due_jobs_are_served_oldest_first_or_earliest_due_when_off() -> None:
    due = [(5.0, 7), (4.0, 9), (4.5, 2)]  # (due time, seq)
    aware = PollPolicy()
    assert sorted(due, key=lambda d: aware.service_key(*d)) == [(4.5, 2), (5.0, 7), (4.0, 9)]
    off = PollPolicy(head_jobs=0)
    assert sorted(due, key=lambda d: off.service_key(*d)) == [(4.0, 9), (4.5, 2), (5.0, 7)]


def lone_job_polls(policy: PollPolicy, job_s: float, first_poll_at: float) -> int:
    """Status polls of one job alone (always the head) that ends ``job_s`` after its submit,
    with instant answers: the schedule the poller follows, without the poller."""
    now, polls = first_poll_at, 0
    while True:
        polls += 1
        if now >= job_s:
            return polls
        now = policy.next_poll_at(now, polls, head=True, last_start_s=now)


def test_a_lone_2s_job_costs_about_20_polls_instead_of_8() -> None:
    aware, off = PollPolicy(), PollPolicy(head_jobs=0)
    assert lone_job_polls(aware, 2.0, aware.initial_interval_s) == 21
    assert lone_job_polls(off, 2.0, off.initial_interval_s) == 8


# --- job status phases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (Status.READY, JobPhase.COMPLETED),
        (Status.FAILED, JobPhase.FAILED),
        (Status.ABORTED, JobPhase.CANCELLED),
        (Status.DELETED, JobPhase.CANCELLED),
        (Status.PENDING_DELETION, JobPhase.CANCELLED),
        (Status.DELETION_FAILED, JobPhase.FAILED),
        (Status.PENDING_EXECUTION, JobPhase.RUNNING),
        (Status.PENDING_COMPILATION, JobPhase.QUEUED),
        (Status.RECEIVED, JobPhase.QUEUED),
        (Status("some status from the future"), JobPhase.RUNNING),
    ],
)
def test_job_phase(status: Status, phase: JobPhase) -> None:
    read = job_status(status, status.value, None, ())
    assert read.phase is phase
    assert read.done is phase.is_terminal


def test_outcome_errors_carry_the_server_message() -> None:
    failed = JobStatus(JobPhase.FAILED, "failed", "boom")
    error = outcome_error("j1", failed)
    assert isinstance(error, JobFailedError) and "boom" in str(error) and error.job_id == "j1"
    aborted = outcome_error("j1", JobStatus(JobPhase.CANCELLED, "aborted"))
    assert isinstance(aborted, JobAbortedError) and "'aborted'" in str(aborted)
    assert outcome_error("j1", JobStatus(JobPhase.COMPLETED, "ready")) is None
    assert outcome_error("j1", JobStatus(JobPhase.RUNNING, "pending execution")) is None


def test_a_failure_without_a_message_names_an_unusual_status_word() -> None:
    error = outcome_error("j1", JobStatus(JobPhase.FAILED, "deletion failed"))
    assert isinstance(error, JobFailedError) and "deletion failed" in str(error)
    plain = outcome_error("j1", JobStatus(JobPhase.FAILED, "failed"))
    assert isinstance(plain, JobFailedError) and "ended as" not in str(plain)
    deleting = outcome_error("j1", JobStatus(JobPhase.CANCELLED, "pending deletion"))
    assert isinstance(deleting, JobAbortedError) and "pending deletion" in str(deleting)
