"""Our client on the IQM Server API v1, end to end against the emulator (in process): jobs,
batches with a qubit mapping, queue positions, failures, cancel and delete, several quantum
computers, and the pytket backend on top."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pytket.backends.status import StatusEnum
from pytket.circuit import Circuit as PytketCircuit

from iqm_async import AsyncIQMClient, IQMBackend, JobPhase
from iqm_async.api import IQMServerV1
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.errors import ConfigurationError, JobAbortedError, JobFailedError, NotFoundError
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy
from iqm_async.results import CircuitCounts

pytestmark = pytest.mark.anyio

URL = "http://emulator"
FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.01, head_interval_s=0.01)
BELL = Circuit(
    name="bell",
    instructions=(
        Instruction(name="prx", qubits=("a",), args={"angle_t": 0.25, "phase_t": 0.25}),
        Instruction(name="prx", qubits=("b",), args={"angle_t": 0.25, "phase_t": 0.25}),
        Instruction(name="cz", qubits=("a", "b")),
        Instruction(name="prx", qubits=("b",), args={"angle_t": -0.25, "phase_t": 0.25}),
        Instruction(name="measure", qubits=("a", "b"), args={"key": "m"}),
    ),
)
ONE = Circuit(
    name="one",
    instructions=(
        Instruction(name="prx", qubits=("a",), args={"angle_t": 0.5, "phase_t": 0.0}),
        Instruction(name="measure", qubits=("a",), args={"key": "m"}),
    ),
)


def client_of(app: FastAPI, **options: Any) -> AsyncIQMClient:
    options.setdefault("poll", FAST)
    return AsyncIQMClient(URL, transport=httpx.ASGITransport(app=app), **options)


async def test_a_batch_with_a_mapping_runs_and_counts_locally(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=2, parallel=True, job_seconds=0.0))
    async with client_of(app, api="auto") as client:
        assert isinstance(client.api, IQMServerV1) and client.api.quantum_computer == "garnet"
        job = await client.submit([BELL] * 3, shots=200, qubit_mapping={"a": "QB1", "b": "QB2"})
        result = await job.result(timeout=10)
        assert len(result.measurement_arrays) == 3
        for circuit in result.measurement_arrays:
            assert circuit["m"].shape == (200, 2)
            assert {tuple(row) for row in circuit["m"].tolist()} <= {(0, 0), (1, 1)}
        counts = await job.counts()
        assert [sum(c.counts.values()) for c in counts] == [200] * 3
        assert all(set(c.counts) <= {"00", "11"} for c in counts)
        kinds = client.requests_by_kind
    assert kinds["submit"] == 1 and kinds["result"] == 1 and "counts" not in kinds
    assert kinds["quantum-computers"] == 1  # asked once, when the client opened
    submitted = app.state.emulator.jobs[job.id]
    assert submitted.request.qubit_mapping is not None


async def test_metadata_is_fetched_once_from_the_payload(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=7, parallel=True, job_seconds=0.0))
    async with client_of(app, api="iqm-server", quantum_computer="garnet") as client:
        job = await client.submit([BELL, BELL], shots=5, qubit_mapping={"a": "QB1", "b": "QB2"})
        result = await job.result(timeout=10)
        with pytest.raises(LookupError, match=r"await job\.metadata\(\)"):
            _ = result.metadata
        metadata = await job.metadata()
        assert await job.metadata() is metadata
        assert result.metadata is metadata
        assert metadata.request is not None and metadata.request.shots == 5
        assert metadata.request.qubit_mapping_dict == {"a": "QB1", "b": "QB2"}
        assert [c.name for c in metadata.request.circuits] == ["bell", "bell"]
        # Read back in V1's words (qubits, angles in turns), as submitted, not as the
        # server's locus and radians.
        for echoed in metadata.request.circuits:
            assert echoed.instructions == BELL.instructions
        dqa = await client.dynamic_architecture()
        assert metadata.calibration_set_id == dqa.calibration_set_id
        assert client.requests_by_kind["metadata"] == 1


async def test_queue_positions_reach_the_caller(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=3, parallel=False, job_seconds=2.0))
    async with client_of(app, api="iqm-server", quantum_computer="garnet") as client:
        jobs = [await client.submit(ONE, shots=1, qubit_mapping={"a": "QB1"}) for _ in range(3)]
        last = await jobs[-1].status()
        assert last.phase is JobPhase.QUEUED and last.raw == "waiting"
        assert last.queue_position is not None and last.queue_position >= 1  # jobs ahead
        for job in jobs:
            await job.cancel()


async def test_failures_cancel_and_delete(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=4, job_seconds=0.0, job_fail_rate=1.0))
    async with client_of(app, api="iqm-server", quantum_computer="garnet") as client:
        failed = await client.submit(ONE, shots=1, qubit_mapping={"a": "QB1"})
        with pytest.raises(JobFailedError, match="execution_failed: Job execution failed") as info:
            await failed.result(timeout=10)
        assert info.value.server_message
        assert (await failed.wait()).phase is JobPhase.FAILED
    app = create_app(EmulatorConfig(seed=4, job_seconds=30.0))
    async with client_of(app, api="iqm-server", quantum_computer="garnet") as client:
        job = await client.submit(ONE, shots=1, qubit_mapping={"a": "QB1"})
        await job.cancel()
        with pytest.raises(JobAbortedError, match="cancelled"):
            await job.result(timeout=10)
        await job.delete()
    async with client_of(app, api="iqm-server", quantum_computer="garnet") as other:
        with pytest.raises(NotFoundError):
            await other.job(job.id).status()


async def test_two_quantum_computers_need_a_choice(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=5, job_seconds=0.0, quantum_computers=("garnet", "star")))
    with pytest.raises(ConfigurationError, match="garnet, star"):
        async with client_of(app, api="auto"):
            pass
    async with client_of(app, api="auto", quantum_computer="star") as client:
        assert [qc.alias for qc in await client.quantum_computers()] == ["garnet", "star"]
        dqa = await client.dynamic_architecture()
        job = await client.submit(ONE, shots=3, qubit_mapping={"a": dqa.qubits[0]})
        assert await job.counts() == [CircuitCounts(("m",), {"1": 3})]


def test_the_pytket_backend_runs_on_the_iqm_server_api() -> None:
    app = create_app(EmulatorConfig(seed=6, parallel=True, job_seconds=0.0))
    options = {
        "api": "iqm-server",
        "quantum_computer": "garnet",
        "transport": httpx.ASGITransport(app=app),
        "poll": FAST,
    }
    with IQMBackend(URL, client_options=options) as backend:
        bell = backend.get_compiled_circuit(PytketCircuit(2, 2).H(0).CX(0, 1).measure_all())
        handles = backend.process_circuits([bell] * 4, n_shots=100)
        results = backend.get_results(handles, timeout=30)
        for result in results:
            counts = result.get_counts()
            assert set(counts) <= {(0, 0), (1, 1)} and sum(counts.values()) == 100
        assert backend.circuit_status(handles[0]).status is StatusEnum.COMPLETED
        metadata = backend.get_metadata(handles[0])
        assert metadata.request is not None and metadata.request.shots == 100
        assert metadata.request.qubit_mapping_dict  # the identity mapping the backend sent
        assert metadata.calibration_set_id is not None
    stats = app.state.emulator.stats()
    assert any(route.startswith("POST /api/v1/jobs/") for route in stats["requests_by_route"])


async def test_jobs_that_ended_at_submit_do_not_wait_for_the_poll_cap(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=8, parallel=True, job_seconds=0.0))
    slow_cap = PollPolicy(max_polls_per_s=2.0)  # 50 polls would take 25 s
    async with client_of(app, api="iqm-server", quantum_computer="garnet", poll=slow_cap) as c:
        jobs = [await c.submit(ONE, shots=1, qubit_mapping={"a": "QB1"}) for _ in range(50)]
        with anyio.fail_after(10):
            results = await c.gather(jobs)
        assert all(r.measurements == [{"m": [[1]]}] for r in results)
        assert "status" not in c.requests_by_kind


async def test_the_client_asks_by_default(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=9, parallel=True, job_seconds=0.0))
    async with AsyncIQMClient(URL, transport=httpx.ASGITransport(app=app)) as client:
        assert isinstance(client.api, IQMServerV1)  # the emulator lists its quantum computers
        assert client.requests_by_kind == {"quantum-computers": 1}
