"""The queue model: when each job compiles, runs and ends (pure; times are clock seconds).

A job's status is computed from its timestamps whenever someone asks, so no task or thread
runs per job. Of a job's duration, :data:`COMPILE_FRACTION` is compilation, which never waits
for the QPU; the rest is execution on the QPU. With one QPU (the default) executions run one
at a time, first in first out; with ``parallel`` every job executes as soon as it compiled.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

__all__ = ["COMPILE_FRACTION", "JobState", "JobTimes", "QpuQueue", "status_at"]


class JobState(str, Enum):
    """The V1 status words this emulator serves (the server's own table; the client reads
    them through its API variant)."""

    PENDING_COMPILATION = "pending compilation"
    PENDING_EXECUTION = "pending execution"
    READY = "ready"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def is_terminal(self) -> bool:
        """True once the job can change no more."""
        return self in (JobState.READY, JobState.FAILED, JobState.ABORTED)


COMPILE_FRACTION = 0.2


@dataclass(eq=False)  # identity matters: two jobs may have equal times
class JobTimes:
    """Clock times of one job, in seconds on the emulator's monotonic clock.

    ``ended_at`` is set when the job stopped early (aborted); ``fails`` when it will end
    ``failed`` instead of ``ready``.
    """

    submitted: float
    compile_end: float
    execution_s: float
    execution_start: float
    execution_end: float
    fails: bool = False
    aborted_at: float | None = None

    @property
    def job_end(self) -> float:
        """When the job reached (or will reach) its terminal status."""
        if self.aborted_at is not None:
            return self.aborted_at
        return self.compile_end if self.fails_at_compile else self.execution_end

    @property
    def fails_at_compile(self) -> bool:
        """True for jobs rejected during compilation (they never reach the QPU)."""
        return self.fails and self.execution_s < 0


def status_at(times: JobTimes, now: float) -> JobState:
    """The V1 status of a job at clock time ``now``."""
    if times.aborted_at is not None and now >= times.aborted_at:
        return JobState.ABORTED
    if now < times.compile_end:
        return JobState.PENDING_COMPILATION
    if times.fails_at_compile:
        return JobState.FAILED
    if now < times.execution_end:
        return JobState.PENDING_EXECUTION
    return JobState.FAILED if times.fails else JobState.READY


class QpuQueue:
    """Schedules executions on one QPU (FIFO) or on unlimited QPUs (``parallel``)."""

    def __init__(self, *, parallel: bool) -> None:
        self.parallel = parallel
        # Jobs whose execution has not ended yet, in submission order (FIFO mode only).
        self._active: deque[JobTimes] = deque()

    def schedule(
        self, now: float, duration_s: float, *, fails: bool = False, compile_fails: bool = False
    ) -> JobTimes:
        """Place a new job submitted at ``now`` that takes ``duration_s`` on an idle QPU.

        ``compile_fails`` marks a job that fails during compilation and never runs.
        """
        compile_s = duration_s * COMPILE_FRACTION
        compile_end = now + compile_s
        if compile_fails:
            return JobTimes(now, compile_end, -1.0, compile_end, compile_end, fails=True)
        execution_s = duration_s - compile_s
        start = compile_end if self.parallel else max(compile_end, self._qpu_free_at(now))
        times = JobTimes(now, compile_end, execution_s, start, start + execution_s, fails=fails)
        if not self.parallel and execution_s > 0:
            self._active.append(times)
        return times

    def abort(self, times: JobTimes, now: float) -> None:
        """Stop a pending job at ``now`` and move the executions queued behind it forward."""
        times.aborted_at = now
        if self.parallel or times not in self._active:
            return
        active = list(self._active)
        position = active.index(times)
        del active[position]
        # Active jobs before this one are still running or waiting, so the QPU frees up when
        # the previous one ends; with none before, it is free now.
        free_at = active[position - 1].execution_end if position > 0 else now
        for later in active[position:]:
            later.execution_start = max(later.compile_end, free_at)
            later.execution_end = later.execution_start + later.execution_s
            free_at = later.execution_end
        self._active = deque(active)

    def position(self, times: JobTimes, now: float) -> int:
        """The jobs ahead of one that has not started executing at ``now`` (0 = next on the
        QPU), as IQM's ``JobData.queue_position`` counts them.

        Counts the executions queued ahead of it that have not started either (the running
        one does not count). With ``parallel``, or for a job that never joins the QPU queue
        (an instant one, or one failing at compilation), it is 0.
        """
        ahead = 0
        if not self.parallel:
            for other in self._active:
                if other is times:
                    return ahead
                if other.execution_start > now:
                    ahead += 1
        return 0

    def _qpu_free_at(self, now: float) -> float:
        while self._active and self._active[0].execution_end <= now:
            self._active.popleft()
        return self._active[-1].execution_end if self._active else now
