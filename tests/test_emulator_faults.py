"""Fault injection: 5xx, 429, dropped connections and latency, in-process and over loopback."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from iqm_async.emulator import EmulatorConfig, create_app, running_emulator_with_state
from iqm_async.emulator.faults import Fault, FaultPlan

DATA = Path(__file__).parent / "data"
RUN_REQUEST = json.loads((DATA / "run_request_v1.json").read_text())
INSTANT: dict[str, Any] = {"seed": 21, "parallel": True, "job_seconds": 0.0}


def asgi_client(config: EmulatorConfig) -> tuple[httpx.AsyncClient, Any]:
    app = create_app(config)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator")
    return client, app.state.emulator


# --- decisions (no I/O) ---------------------------------------------------------------------


def test_fault_plan_rates_are_probabilities() -> None:
    config = EmulatorConfig(fail_rate=0.1, throttle_rate=0.2, drop_rate=0.3)
    plan = FaultPlan(config, random.Random(1))
    draws = [plan.draw() for _ in range(20_000)]
    kinds = [d.kind if d else None for d in draws]
    assert abs(kinds.count("5xx") / 20_000 - 0.1) < 0.01
    assert abs(kinds.count("429") / 20_000 - 0.2) < 0.01
    assert abs(kinds.count("drop") / 20_000 - 0.3) < 0.01
    assert {d.status for d in draws if d and d.kind == "5xx"} == {500, 502, 503}


def test_no_faults_draws_nothing() -> None:
    plan = FaultPlan(EmulatorConfig(), random.Random(1))
    assert not plan.active and plan.draw() is None and plan.latency() == 0.0


def test_latency_jitter_and_retry_after_format() -> None:
    plan = FaultPlan(EmulatorConfig(latency_ms=100, retry_after_s=0.05), random.Random(2))
    delays = [plan.latency() for _ in range(1000)]
    assert 0.05 <= min(delays) < 0.06 and 0.14 < max(delays) <= 0.15
    assert plan.retry_after_header() == "0.05"
    assert FaultPlan(EmulatorConfig(retry_after_s=2.0), random.Random()).retry_after_header() == "2"


# --- in-process -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_fail_rate_answers_5xx_without_running_the_route() -> None:
    client, emulator = asgi_client(EmulatorConfig(fail_rate=1.0, **INSTANT))
    async with client:
        replies = [await client.post("/jobs", json=RUN_REQUEST) for _ in range(30)]
        stats = await client.get("/_emulator/stats")  # never faulted
    assert {r.status_code for r in replies} == {500, 502, 503}
    assert all("Emulated server fault" in r.json()["detail"] for r in replies)
    assert stats.status_code == 200
    counters = stats.json()
    assert counters["jobs_created"] == 0 and emulator.jobs == {}
    assert counters["faults_injected"]["5xx"] == 30
    assert counters["requests_by_route"] == {"POST /jobs": 30}


@pytest.mark.anyio
async def test_throttle_rate_answers_429_with_retry_after() -> None:
    client, emulator = asgi_client(EmulatorConfig(throttle_rate=1.0, retry_after_s=0.05, **INSTANT))
    async with client:
        reply = await client.get("/jobs/x/status")
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "0.05"
    assert "retry after 0.05 s" in reply.json()["detail"]
    assert emulator.stats()["responses_by_status"] == {"429": 1}
    assert emulator.stats()["requests_by_route"] == {"GET /jobs/{job_id}/status": 1}


@pytest.mark.anyio
async def test_drop_after_submit_raises_like_a_disconnect_and_keeps_the_job() -> None:
    client, emulator = asgi_client(EmulatorConfig(drop_rate=1.0, **INSTANT))
    async with client:
        with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected"):
            await client.post("/jobs", json=RUN_REQUEST)
    assert len(emulator.jobs) == 1  # the route ran: the job exists although nobody heard
    (job,) = emulator.jobs.values()
    assert emulator.status(job).value == "ready"
    assert emulator.stats()["faults_injected"]["drop"] == 1
    assert emulator.stats()["requests_by_route"] == {"POST /jobs": 1}


@pytest.mark.anyio
async def test_latency_is_added() -> None:
    client, _ = asgi_client(EmulatorConfig(latency_ms=60, **INSTANT))
    async with client:
        start = time.perf_counter()
        await client.get("/health")
        elapsed = time.perf_counter() - start
    assert elapsed >= 0.03  # 60 ms ± 50 %


@pytest.mark.anyio
async def test_faults_never_corrupt_the_job_store() -> None:
    config = EmulatorConfig(fail_rate=0.2, throttle_rate=0.2, drop_rate=0.2, **INSTANT)
    client, emulator = asgi_client(config)
    accepted: list[str] = []
    dropped = 0
    async with client:
        for shots in range(1, 201):
            try:
                reply = await client.post("/jobs", json={**RUN_REQUEST, "shots": shots})
            except httpx.RemoteProtocolError:
                dropped += 1
                continue
            if reply.status_code == 201:
                accepted.append(reply.json()["id"])
        assert len(emulator.jobs) == len(accepted) + dropped
        emulator.faults = FaultPlan(replace(config, fail_rate=0, throttle_rate=0, drop_rate=0),
                                    random.Random(0))  # fmt: skip
        for job_id in accepted:
            result = (await client.get(f"/jobs/{job_id}")).json()
            shots = result["metadata"]["request"]["shots"]
            assert result["status"] == "ready" and len(result["measurements"][0]["m"]) == shots
    assert 0 < dropped < 80 and 40 < len(accepted) < 160


# --- over loopback --------------------------------------------------------------------------


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_real_connection_drop_after_the_route_ran(
    http: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = EmulatorConfig(drop_rate=1.0, **INSTANT)
    with running_emulator_with_state(config, http=http) as (url, emulator):
        with httpx.Client(base_url=url) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/jobs", json=RUN_REQUEST)
            assert len(emulator.jobs) == 1  # the submit created the job
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/health")
            emulator.faults = FaultPlan(replace(config, drop_rate=0.0), random.Random(0))
            (job_id,) = emulator.jobs
            # The server lives on and answers normally on a fresh connection.
            assert client.get(f"/jobs/{job_id}/status").json()["status"] == "ready"
        assert emulator.stats()["faults_injected"]["drop"] == 2
    # uvicorn saw the disconnect before the route returned, so it logged no error.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_fault_dataclass_is_small() -> None:
    assert Fault("429", 429) == Fault("429", 429)
