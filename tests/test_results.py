"""The neutral result types: phases, statuses, and a JobResult that builds its lists and
parses its metadata once, when first read (pure, no event loop)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from iqm_async.errors import InvalidResponseError
from iqm_async.models import Metadata
from iqm_async.results import CircuitCounts, JobPhase, JobResult, JobStatus

READY = JobStatus(JobPhase.COMPLETED, "ready", warnings=("calibration is old",))


def arrays() -> list[dict[str, np.ndarray]]:
    return [
        {"m": np.array([[0, 1], [1, 1]], dtype=np.uint8)},
        {"a": np.array([[1]], dtype=np.uint8), "b": np.array([[0]], dtype=np.uint8)},
    ]


@pytest.mark.parametrize(
    ("phase", "terminal"),
    [
        (JobPhase.QUEUED, False),
        (JobPhase.RUNNING, False),
        (JobPhase.COMPLETED, True),
        (JobPhase.FAILED, True),
        (JobPhase.CANCELLED, True),
    ],
)
def test_phase_terminality(phase: JobPhase, terminal: bool) -> None:
    assert phase.is_terminal is terminal
    assert JobStatus(phase, "word").done is terminal


def test_phases_print_as_their_names() -> None:
    assert [str(p) for p in JobPhase] == ["queued", "running", "completed", "failed", "cancelled"]
    assert JobPhase["CANCELLED"] is JobPhase.CANCELLED


def test_a_status_is_a_frozen_value() -> None:
    status = JobStatus(JobPhase.RUNNING, "pending execution", queue_position=3, progress=0.5)
    assert status == JobStatus(JobPhase.RUNNING, "pending execution", None, 3, 0.5, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.phase = JobPhase.COMPLETED  # type: ignore[misc]


def test_lists_are_built_once_when_first_read() -> None:
    result = JobResult("j1", READY, arrays(), metadata=Metadata())
    assert result._lists is None  # nothing built until asked
    lists = result.measurements
    assert lists == [{"m": [[0, 1], [1, 1]]}, {"a": [[1]], "b": [[0]]}]
    assert all(type(bit) is int for shot in lists[0]["m"] for bit in shot)  # not numpy ints
    assert result.measurements is lists  # the same lists, not rebuilt


def test_metadata_is_loaded_once_when_first_read() -> None:
    loads: list[int] = []
    parsed = Metadata()

    def load() -> Metadata:
        loads.append(1)
        return parsed

    result = JobResult("j1", READY, arrays(), metadata=load)
    assert not loads
    assert result.metadata is parsed
    assert result.metadata is parsed
    assert len(loads) == 1


def test_metadata_given_parsed_is_kept() -> None:
    parsed = Metadata()
    assert JobResult("j1", READY, [], metadata=parsed).metadata is parsed


def test_metadata_that_does_not_load_raises_on_every_read() -> None:
    def load() -> Metadata:
        raise InvalidResponseError("bad metadata")

    result = JobResult("j1", READY, arrays(), metadata=load)
    for _ in range(2):
        with pytest.raises(InvalidResponseError, match="bad metadata"):
            result.metadata  # noqa: B018 - reading it is the test
    assert result.measurements[0]["m"] == [[0, 1], [1, 1]]  # the bits are unaffected


def test_warnings_and_repr() -> None:
    result = JobResult("j1", READY, arrays(), metadata=Metadata())
    assert result.warnings == ("calibration is old",)
    assert repr(result) == "JobResult(job_id='j1', circuits=2)"


def test_circuit_counts() -> None:
    counts = CircuitCounts(("a", "b"), {"01": 3})
    assert counts == CircuitCounts(("a", "b"), {"01": 3})
    assert CircuitCounts(("a",)).counts == {}
