"""The queue model and job timing, tested on plain numbers (no clock, no event loop)."""

from __future__ import annotations

import pytest

from iqm_async.emulator.config import EmulatorConfig
from iqm_async.emulator.queue import COMPILE_FRACTION, JobState, QpuQueue, status_at
from iqm_async.errors import ConfigurationError


def test_status_flow_of_one_job() -> None:
    times = QpuQueue(parallel=False).schedule(100.0, 10.0)
    assert times.compile_end == pytest.approx(100.0 + 10.0 * COMPILE_FRACTION)
    assert status_at(times, 100.0) is JobState.PENDING_COMPILATION
    assert status_at(times, times.compile_end) is JobState.PENDING_EXECUTION
    assert status_at(times, 109.99) is JobState.PENDING_EXECUTION
    assert status_at(times, 110.0) is JobState.READY


def test_one_qpu_runs_jobs_first_in_first_out() -> None:
    queue = QpuQueue(parallel=False)
    first = queue.schedule(0.0, 10.0)
    second = queue.schedule(0.0, 10.0)
    third = queue.schedule(1.0, 5.0)
    assert first.execution_end == pytest.approx(10.0)
    assert second.execution_start == pytest.approx(10.0)
    assert second.execution_end == pytest.approx(18.0)  # 8 s of execution after 2 s compile
    assert third.execution_start == pytest.approx(18.0)
    assert status_at(third, 17.0) is JobState.PENDING_EXECUTION


def test_parallel_runs_every_job_at_once() -> None:
    queue = QpuQueue(parallel=True)
    jobs = [queue.schedule(0.0, 10.0) for _ in range(100)]
    assert {j.execution_end for j in jobs} == {10.0}


def test_instant_jobs_are_ready_immediately() -> None:
    times = QpuQueue(parallel=True).schedule(5.0, 0.0)
    assert status_at(times, 5.0) is JobState.READY


def test_abort_moves_later_jobs_forward() -> None:
    queue = QpuQueue(parallel=False)
    running = queue.schedule(0.0, 10.0)  # executes 2..10
    waiting = queue.schedule(0.0, 10.0)  # executes 10..18
    last = queue.schedule(0.0, 10.0)  # executes 18..26
    queue.abort(waiting, now=5.0)
    assert status_at(waiting, 5.0) is JobState.ABORTED
    assert last.execution_start == pytest.approx(10.0)  # right after the running one
    queue.abort(running, now=6.0)
    assert last.execution_start == pytest.approx(6.0)  # the QPU is free now
    assert last.execution_end == pytest.approx(14.0)
    follower = queue.schedule(7.0, 10.0)
    assert follower.execution_start == pytest.approx(14.0)


def test_failing_jobs() -> None:
    queue = QpuQueue(parallel=False)
    at_compile = queue.schedule(0.0, 10.0, compile_fails=True)
    assert status_at(at_compile, 1.0) is JobState.PENDING_COMPILATION
    assert status_at(at_compile, 2.0) is JobState.FAILED
    in_execution = queue.schedule(0.0, 10.0, fails=True)
    assert status_at(in_execution, 9.0) is JobState.PENDING_EXECUTION  # compile-failed took no QPU
    assert status_at(in_execution, 10.0) is JobState.FAILED


def test_job_duration_defaults_look_like_a_device() -> None:
    config = EmulatorConfig()
    assert config.job_duration_s(1000) == pytest.approx(1.0)
    assert EmulatorConfig(job_seconds=2.5).job_duration_s(1000) == 2.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fail_rate": 1.5},
        {"drop_rate": -0.1},
        {"fail_rate": 0.6, "throttle_rate": 0.6},
        {"token_seconds": 0},
        {"max_shots": 0},
        {"job_seconds": -1.0},
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="EmulatorConfig"):
        EmulatorConfig(**kwargs)  # type: ignore[arg-type]
