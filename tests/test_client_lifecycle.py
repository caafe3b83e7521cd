"""Cancel and delete through the client, against the emulator (in process)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from iqm_async import AsyncIQMClient, JobPhase
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.errors import JobAbortedError, NotFoundError
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy

pytestmark = pytest.mark.anyio

ASGI_URL = "http://emulator"
ONE = Circuit(
    name="one",
    instructions=(
        Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0.0}),
        Instruction(name="measure", qubits=("QB1",), args={"key": "m"}),
    ),
)
FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.01, head_interval_s=0.01)


def client_of(app: FastAPI) -> AsyncIQMClient:
    return AsyncIQMClient(ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=app), poll=FAST)


async def test_delete_forgets_a_finished_job(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=1, job_seconds=0.0))
    async with client_of(app) as client:
        job = await client.submit(ONE, shots=4)
        assert (await job.result(timeout=10)).measurements == [{"m": [[1]] * 4}]
        await job.delete()
        assert client.requests_by_kind["delete"] == 1
    assert job.id not in app.state.emulator.jobs
    async with client_of(app) as other:  # a new handle asks the server, which forgot it
        with pytest.raises(NotFoundError, match=job.id):
            await other.job(job.id).status()


async def test_delete_of_a_pending_job_takes_it_off_the_queue(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=1, job_seconds=30.0))
    async with client_of(app) as client:
        pending = await client.submit(ONE, shots=4)
        await pending.delete()
        after = await client.submit(ONE, shots=4)
    emulator = app.state.emulator
    assert pending.id not in emulator.jobs
    times = emulator.jobs[after.id].times
    # One QPU, first in first out: behind the deleted job it would start 30 s later.
    assert times.execution_start == pytest.approx(times.compile_end)


async def test_cancel_ends_the_wait_as_cancelled(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=1, job_seconds=30.0))
    async with client_of(app) as client:
        job = await client.submit(ONE, shots=4)
        await job.cancel()
        with pytest.raises(JobAbortedError, match="aborted"):
            await job.result(timeout=10)
        final = await job.wait()
        assert final.phase is JobPhase.CANCELLED and final.raw == "aborted"
        assert client.requests_by_kind["abort"] == 1
