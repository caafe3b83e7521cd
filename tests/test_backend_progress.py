"""The backend's progress bar shows where the oldest unfinished job is (no I/O)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from iqm_async.backend._backend import _show_queue, queue_text
from iqm_async.jobs import Job
from iqm_async.results import JobPhase, JobStatus

pytestmark = pytest.mark.anyio


def test_queue_text() -> None:
    assert queue_text(None) == ""
    assert queue_text(JobStatus(JobPhase.QUEUED, "waiting", queue_position=7)) == (
        "next job: 7 jobs ahead in the queue"
    )
    assert queue_text(JobStatus(JobPhase.RUNNING, "processing", progress=0.5)) == (
        "next job: 50% done"
    )
    assert queue_text(JobStatus(JobPhase.RUNNING, "pending execution")) == ""


class RecordingBar:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.texts.append(text)


async def test_the_bar_follows_the_oldest_unfinished_job(anyio_backend: str) -> None:
    server: Any = object()  # the jobs are never asked to do I/O here
    first, second = Job("j1", server, seq=0), Job("j2", server, seq=1)
    first._observe(JobStatus(JobPhase.QUEUED, "waiting", queue_position=2))
    second._observe(JobStatus(JobPhase.QUEUED, "waiting", queue_position=3))
    bar = RecordingBar()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_show_queue, bar, [first, second], 0.01)
        await anyio.sleep(0.05)
        first._observe(JobStatus(JobPhase.RUNNING, "processing", progress=0.25))
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert bar.texts[0] == "next job: 2 jobs ahead in the queue"
    assert bar.texts[-1] == "next job: 25% done"


def test_a_timeout_with_the_bar_shown_is_still_a_job_timeout() -> None:
    import httpx
    from pytket.circuit import Circuit

    from iqm_async import IQMBackend
    from iqm_async.emulator import EmulatorConfig, create_app
    from iqm_async.errors import JobTimeoutError

    app = create_app(EmulatorConfig(seed=1, job_seconds=30.0))
    options = {"transport": httpx.ASGITransport(app=app), "api": "iqm-server"}
    options["quantum_computer"] = "garnet"
    with IQMBackend("http://emulator", progress=True, client_options=options) as backend:
        circuit = backend.get_compiled_circuit(Circuit(1, 1).X(0).measure_all())
        handles = backend.process_circuits([circuit, circuit], n_shots=1, batch_size=1)
        with pytest.raises(JobTimeoutError):
            backend.get_results(handles, timeout=0.3)
