"""Queue-position polling decisions (no I/O): a job far back in the server's queue is polled
``queued_wait_fraction`` of its expected wait apart, never more than ``max_queued_interval_s``."""

from __future__ import annotations

import pytest

from iqm_async.errors import ConfigurationError
from iqm_async.policies import PollPolicy, expected_wait_s, job_seconds_sample

POLICY = PollPolicy()


def test_expected_wait_is_the_jobs_ahead_times_one_jobs_time() -> None:
    assert expected_wait_s(4, 2.0) == 8.0
    assert expected_wait_s(0, 2.0) == 0.0  # next in line
    assert expected_wait_s(None, 2.0) is None
    assert expected_wait_s(5, None) is None


def test_one_jobs_time_is_learnt_from_a_job_moving_up() -> None:
    assert job_seconds_sample((10.0, 12), (14.0, 10)) == 2.0
    assert job_seconds_sample((10.0, 12), (14.0, 12)) is None  # did not move
    assert job_seconds_sample((10.0, 12), (14.0, 13)) is None  # pushed back
    assert job_seconds_sample((10.0, 12), (10.0, 11)) is None  # no time passed


def test_a_job_far_back_is_polled_after_most_of_its_expected_wait() -> None:
    backoff = POLICY.next_poll_at(100.0, 3)
    assert backoff == pytest.approx(100.0 + POLICY.interval_s(3))
    assert POLICY.next_poll_at(100.0, 3, expected_wait_s=20.0) == pytest.approx(118.0)
    half = PollPolicy(queued_wait_fraction=0.5)
    assert half.next_poll_at(100.0, 3, expected_wait_s=20.0) == pytest.approx(110.0)
    assert POLICY.next_poll_at(100.0, 3, expected_wait_s=1000.0) == pytest.approx(130.0)
    # A short expected wait never makes polls come faster than the backoff.
    assert POLICY.next_poll_at(100.0, 3, expected_wait_s=0.01) == pytest.approx(backoff)
    # A head job is polled every head_interval_s whatever its queue position says.
    head = POLICY.next_poll_at(100.0, 3, head=True, last_start_s=99.95, expected_wait_s=40.0)
    assert head == pytest.approx(100.05)


def test_queue_position_polling_can_be_turned_off() -> None:
    off = PollPolicy(queue_position_polling=False)
    assert off.next_poll_at(100.0, 3, expected_wait_s=40.0) == off.next_poll_at(100.0, 3)


def test_bad_queue_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_queued_interval_s"):
        PollPolicy(max_interval_s=5.0, max_queued_interval_s=2.0)
    for fraction in (0.0, 1.5, float("nan")):
        with pytest.raises(ConfigurationError, match="queued_wait_fraction"):
            PollPolicy(queued_wait_fraction=fraction)
