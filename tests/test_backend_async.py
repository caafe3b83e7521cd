"""AsyncIQMBackend: pytket circuits from asyncio and trio, on both server APIs, against the
emulator in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from uuid import uuid4

import anyio
import anyio.to_process
import httpx
import psutil
import pytest
from pytket.backends import ResultHandle, StatusEnum
from pytket.backends.backend import ResultHandleTypeError
from pytket.circuit import Circuit

from iqm_async.backend import AsyncIQMBackend
from iqm_async.client import AsyncIQMClient
from iqm_async.compiler import (
    compile_circuits,
    estimated_fidelity,
    estimated_success_probability,
    mitigated_distribution,
)
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.errors import (
    CircuitValidationError,
    ConfigurationError,
    IQMError,
    JobAbortedError,
    JobTimeoutError,
)
from iqm_async.models import Metadata
from iqm_async.policies import PollPolicy

pytestmark = pytest.mark.anyio

ASGI_URL = "http://emulator"
APIS = ["cocos", "iqm-server"]


def api_options(api: str) -> dict[str, Any]:
    return {"api": api, "quantum_computer": "garnet"} if api == "iqm-server" else {"api": api}


@asynccontextmanager
async def backend_on(api: str, **config: Any) -> AsyncIterator[AsyncIQMBackend]:
    settings: dict[str, Any] = {"seed": 5, "parallel": True, "job_seconds": 0.0} | config
    app = create_app(EmulatorConfig(**settings))
    async with (
        AsyncIQMClient(
            ASGI_URL,
            transport=httpx.ASGITransport(app=app),
            poll=PollPolicy(initial_interval_s=0.01, max_interval_s=0.05),
            **api_options(api),
        ) as client,
        AsyncIQMBackend(client) as backend,
    ):
        yield backend


async def compiled_for(backend: AsyncIQMBackend, circuits: list[Circuit]) -> list[Circuit]:
    """Compiled here, at level 0 (fast): worker processes are tested once, below."""
    return compile_circuits(circuits, (await backend.device()).architecture, 0)


def bell(name: str = "bell") -> Circuit:
    return Circuit(2, 2, name=name).H(0).CX(0, 1).measure_all()


def ghz3() -> Circuit:
    return Circuit(3, 3, name="ghz3").H(0).CX(0, 1).CX(1, 2).measure_all()


def bit(value: int) -> Circuit:
    circuit = Circuit(1, 1, name=f"bit{value}")
    if value:
        circuit.X(0)
    return circuit.measure_all()


@pytest.mark.parametrize("api", APIS)
async def test_process_then_as_completed_gives_every_result(anyio_backend: str, api: str) -> None:
    async with backend_on(api) as backend:
        circuits = [bit(i % 2) for i in range(6)]
        compiled = await compiled_for(backend, circuits)
        handles = await backend.process_circuits(compiled, n_shots=20, batch_size=4)
        assert len({h[0] for h in handles}) == 2  # 6 circuits packed into 2 jobs... per key
        seen: dict[ResultHandle, Any] = {}
        async for handle, result in backend.as_completed(handles, timeout=30):
            seen[handle] = result
        assert set(seen) == set(handles)
        for index, handle in enumerate(handles):
            assert seen[handle].get_counts() == {(index % 2,): 20}


@pytest.mark.parametrize("api", APIS)
async def test_results_in_order_metadata_and_status(anyio_backend: str, api: str) -> None:
    async with backend_on(api) as backend:
        compiled = await compiled_for(backend, [bell(), bit(1)])
        handles = await backend.process_circuits(compiled, n_shots=50)
        results = await backend.get_results(handles, timeout=30)
        assert set(results[0].get_counts()) <= {(0, 0), (1, 1)}
        assert results[1].get_counts() == {(1,): 50}
        status = await backend.circuit_status(handles[0])
        assert status.status is StatusEnum.COMPLETED
        metadata = await backend.get_metadata(handles[0], timeout=30)
        assert isinstance(metadata, Metadata)
        assert metadata.calibration_set_id is not None


@pytest.mark.parametrize("api", APIS)
async def test_results_are_collected_in_the_background(anyio_backend: str, api: str) -> None:
    async with backend_on(api) as backend:
        compiled = await compiled_for(backend, [bit(1)])
        (handle,) = await backend.process_circuits(compiled, n_shots=5)
        with anyio.fail_after(20):
            # Nobody waits for the job: the backend collects it by itself.
            while not backend.has_job(handle[0]):  # noqa: ASYNC110 - a plain dict
                await anyio.sleep(0.01)
        assert backend.decode(handle).get_counts() == {(1,): 5}


async def test_outside_its_context_results_are_fetched_when_asked(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=1, parallel=True, job_seconds=0.0))
    async with AsyncIQMClient(
        ASGI_URL, api="cocos", transport=httpx.ASGITransport(app=app)
    ) as client:
        backend = AsyncIQMBackend(client)
        compiled = await compiled_for(backend, [bit(0)])
        (handle,) = await backend.process_circuits(compiled, n_shots=3)
        await anyio.sleep(0.1)
        assert not backend.has_job(handle[0])
        with pytest.raises(IQMError, match="no result here yet; wait for it first"):
            backend.decode(handle)
        assert (await backend.get_result(handle, timeout=30)).get_counts() == {(0,): 3}


@pytest.mark.parametrize("api", APIS)
async def test_cancel_then_result_is_aborted(anyio_backend: str, api: str) -> None:
    async with backend_on(api, parallel=False, job_seconds=30.0) as backend:
        compiled = await compiled_for(backend, [bit(1)])
        (handle,) = await backend.process_circuits(compiled, n_shots=5)
        await backend.cancel(handle)
        with pytest.raises(JobAbortedError):
            await backend.get_result(handle, timeout=30)
        assert (await backend.circuit_status(handle)).status is StatusEnum.CANCELLED


async def test_a_slow_job_times_out_and_can_be_waited_again(anyio_backend: str) -> None:
    async with backend_on("cocos", parallel=False, job_seconds=0.6) as backend:
        compiled = await compiled_for(backend, [bit(1)])
        (handle,) = await backend.process_circuits(compiled, n_shots=5)
        with pytest.raises(JobTimeoutError):
            await backend.get_result(handle, timeout=0.05)
        assert (await backend.get_result(handle, timeout=30)).get_counts() == {(1,): 5}


async def test_compiles_in_worker_processes_like_compile_circuits(anyio_backend: str) -> None:
    circuits = [bell(f"c{i}") for i in range(3)]
    async with backend_on("cocos") as backend:
        before = {p.pid for p in psutil.Process().children(recursive=True)}
        compiled = await backend.get_compiled_circuits(circuits, optimisation_level=2)
        workers = {p.pid for p in psutil.Process().children(recursive=True)} - before
        architecture = (await backend.device()).architecture
    assert workers, "compilation must not run in the event loop's process"
    assert compiled == compile_circuits(circuits, architecture, 2)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # worker start-up: once is enough
async def test_a_circuit_too_wide_for_the_device_names_it(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        wide = Circuit(30, name="wide").H(0)
        with pytest.raises(CircuitValidationError, match=r"Circuit 1 \(wide\) has 30 qubits"):
            await backend.get_compiled_circuits([bell(), wide])


async def test_invalid_circuits_are_refused_before_any_job(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        with pytest.raises(CircuitValidationError):
            await backend.process_circuits([bell()], n_shots=10)  # not compiled: H, CX
        assert backend.client.requests_by_kind.get("submit", 0) == 0


async def test_missing_shots_are_refused(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        compiled = await compiled_for(backend, [bit(0)])
        with pytest.raises(ConfigurationError, match="n_shots"):
            await backend.process_circuits(compiled)


async def test_a_foreign_handle_is_refused(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        with pytest.raises(ResultHandleTypeError, match="does not match"):
            await backend.get_result(ResultHandle("x", "1", "{}", "null"))


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_a_bad_batch_size_is_refused(size: Any) -> None:
    client = AsyncIQMClient("http://127.0.0.1:9", api="cocos")
    with pytest.raises(ConfigurationError, match="batch_size must be an int >= 1"):
        AsyncIQMBackend(client, batch_size=size)


async def test_forget_releases_kept_measurements(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        compiled = await compiled_for(backend, [bit(0), bit(1)])
        handles = await backend.process_circuits(compiled, n_shots=3, batch_size=1)
        await backend.get_results(handles, timeout=30)
        backend.forget([handles[0][0]])
        assert not backend.has_job(handles[0][0])
        assert backend.has_job(handles[1][0])
        backend.forget()
        assert not backend.has_job(handles[1][0])


async def test_an_error_in_its_body_is_not_wrapped(anyio_backend: str) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with backend_on("cocos"):
            raise KeyError("mine")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # worker start-up: once is enough
async def test_identical_circuits_compile_once_under_their_own_names(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    circuits = [bell("first"), bell("second"), bit(1)]
    sent = anyio.to_process.run_sync
    jobs: list[int] = []

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        jobs.append(args[-1])  # the circuit's index
        return await sent(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_process, "run_sync", counted)
    async with backend_on("cocos") as backend:
        compiled = await backend.get_compiled_circuits(circuits, optimisation_level=2)
        architecture = (await backend.device()).architecture
        info = await backend.backend_info("garnet")
        assert await backend.backend_info("garnet") is info  # built once per device
    assert sorted(jobs) == [0, 2]  # the second Bell circuit is the first's, renamed
    assert [c.name for c in compiled] == ["first", "second", "bit1"]
    assert compiled[0] is not compiled[1]
    assert compiled == compile_circuits(circuits, architecture, 2)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # worker start-up: once is enough
async def test_fidelity_is_estimated_in_a_worker_process(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = anyio.to_process.run_sync
    workers: list[str] = []

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        workers.append(func.__name__)
        return await sent(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_process, "run_sync", counted)
    async with backend_on("iqm-server", metrics="generated") as backend:
        compiled = (await compiled_for(backend, [bell()]))[0]
        metrics = backend.quality_metrics  # known once the device is
        assert metrics is not None
        predicted = await backend.estimated_fidelity(compiled)
        assert workers == ["estimated_fidelity_from_dicts"]
        assert predicted == pytest.approx(estimated_fidelity(compiled, metrics))
        # Given the ideal distribution, nothing is simulated (and no worker is needed).
        assert await backend.estimated_fidelity(compiled, ideal=[0.5, 0.5]) == predicted
        assert workers == ["estimated_fidelity_from_dicts"]
        success = await backend.estimated_success_probability(compiled)
        assert success == pytest.approx(estimated_success_probability(compiled, metrics))


@pytest.mark.parametrize("api", APIS)
async def test_without_metrics_there_are_no_estimates(anyio_backend: str, api: str) -> None:
    async with backend_on(api) as backend:
        compiled = (await compiled_for(backend, [bell()]))[0]
        assert await backend.estimated_fidelity(compiled) is None
        assert await backend.estimated_success_probability(compiled) is None


@pytest.mark.parametrize("api", APIS)
async def test_mitigation_by_handle_reads_the_qubits_from_the_request_echo(
    anyio_backend: str, api: str
) -> None:
    async with backend_on(api, metrics="generated", noise=True) as backend:
        compiled = (await compiled_for(backend, [ghz3()]))[0]
        handle = (await backend.process_circuits([compiled], n_shots=2000))[0]
        corrected = await backend.get_mitigated_distribution(handle)
        result = await backend.get_result(handle)
        metrics = backend.quality_metrics
        assert metrics is not None
    assert corrected == pytest.approx(mitigated_distribution(result, compiled, metrics))
    counts = result.get_counts()
    raw = (counts[(0, 0, 0)] + counts[(1, 1, 1)]) / sum(counts.values())
    assert corrected.get((0, 0, 0), 0) + corrected.get((1, 1, 1), 0) > raw


async def test_mitigation_by_handle_uses_the_calibration_set_the_job_ran_on(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with backend_on("iqm-server", metrics="generated", noise=True) as backend:
        compiled = (await compiled_for(backend, [ghz3()]))[0]
        handle = (await backend.process_circuits([compiled], n_shots=500))[0]
        device = await backend.device()
        metrics = device.metrics
        assert metrics is not None
        # The backend's device now describes another calibration set (as after a
        # recalibration), with other readout figures: the job's own set must be read.
        stale = replace(metrics, calibration_set_id=uuid4(), qubits={})
        monkeypatch.setattr(backend, "_device", replace(device, metrics=stale))
        asked: list[str] = []
        fetch = backend.client.quality_metrics

        async def recorded(calibration_set_id: Any = None, **kwargs: Any) -> Any:
            asked.append(str(calibration_set_id))
            return await fetch(calibration_set_id, **kwargs)

        monkeypatch.setattr(backend.client, "quality_metrics", recorded)
        corrected = await backend.get_mitigated_distribution(handle)
        result = await backend.get_result(handle)
    assert asked == [str(metrics.calibration_set_id)]
    assert corrected == pytest.approx(mitigated_distribution(result, compiled, metrics))


async def test_mitigation_by_handle_without_readout_errors_says_so(anyio_backend: str) -> None:
    async with backend_on("cocos") as backend:
        compiled = (await compiled_for(backend, [bell()]))[0]
        handle = (await backend.process_circuits([compiled], n_shots=10))[0]
        with pytest.raises(ConfigurationError, match="publishes no readout errors"):
            await backend.get_mitigated_distribution(handle)
