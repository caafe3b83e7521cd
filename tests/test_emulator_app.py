"""The emulator's routes in-process (httpx.ASGITransport), on asyncio and trio."""

from __future__ import annotations

import copy
import gc
import json
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from iqm_async.api.cocos_wire import QuantumArchitecture, RunResult
from iqm_async.emulator import Emulator, EmulatorConfig, JobRecord, create_app
from iqm_async.models import DynamicQuantumArchitecture

pytestmark = pytest.mark.anyio

DATA = Path(__file__).parent / "data"
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / "run_request_v1.json").read_text())
    body.update(overrides)
    return body


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator"
    ) as client:
        yield client


def app_with_clock(clock: FakeClock, **config: Any) -> FastAPI:
    return create_app(emulator=Emulator(EmulatorConfig(seed=5, **config), clock=clock))


# --- job flow -------------------------------------------------------------------------------


async def test_submit_then_status_result_counts(
    emulator_app: FastAPI,
    asgi_client_factory: ClientFactory,
) -> None:
    async with asgi_client_factory(emulator_app) as client:
        reply = await client.post("/jobs", json=run_request())
        assert reply.status_code == 201
        job_id = reply.json()["id"]
        status = await client.get(f"/jobs/{job_id}/status")
        assert status.json() == {"status": "ready", "message": None, "warnings": None}
        result = RunResult.model_validate((await client.get(f"/jobs/{job_id}")).json())
        assert result.measurements is not None
        bits = result.measurements[0]["m"]
        assert len(bits) == 1000 and {tuple(b) for b in bits} <= {(0, 0), (1, 1)}
        assert result.metadata.request is not None
        assert result.metadata.request.qubit_mapping_dict == {"q0": "QB1", "q1": "QB2"}
        counts = (await client.get(f"/jobs/{job_id}/counts")).json()
        assert counts["status"] == "ready"
        (histogram,) = counts["counts_batch"]
        assert histogram["measurement_keys"] == ["m"]
        assert sum(histogram["counts"].values()) == 1000
        assert set(histogram["counts"]) == {"00", "11"}
    record = emulator_app.state.emulator.job_record(job_id)
    assert record is not None and record.measurements == [{"m": bits}]


async def test_fifo_status_flow_follows_the_clock() -> None:
    clock = FakeClock()
    app = app_with_clock(clock, job_seconds=10.0)
    async with client_for(app) as client:
        ids = [(await client.post("/jobs", json=run_request())).json()["id"] for _ in range(2)]

        async def statuses() -> list[str]:
            return [(await client.get(f"/jobs/{i}/status")).json()["status"] for i in ids]

        assert await statuses() == ["pending compilation"] * 2
        pending = (await client.get(f"/jobs/{ids[0]}")).json()
        assert "measurements" not in pending and pending["metadata"]["request"]["shots"] == 1000
        clock.advance(3.0)
        assert await statuses() == ["pending execution"] * 2
        clock.advance(7.0)
        assert await statuses() == ["ready", "pending execution"]
        clock.advance(8.0)
        assert await statuses() == ["ready", "ready"]
        stamps = (await client.get(f"/jobs/{ids[1]}")).json()["metadata"]["timestamps"]
        assert list(stamps) == [
            "job_start",
            "compile_start",
            "compile_end",
            "submit_start",
            "submit_end",
            "execution_start",
            "execution_end",
            "job_end",
        ]


async def test_abort_pending_then_finished_then_unknown() -> None:
    clock = FakeClock()
    app = app_with_clock(clock, job_seconds=10.0)
    async with client_for(app) as client:
        job_id = (await client.post("/jobs", json=run_request())).json()["id"]
        abort = await client.post(f"/jobs/{job_id}/abort")
        assert abort.status_code == 200
        assert (await client.get(f"/jobs/{job_id}/status")).json()["status"] == "aborted"
        again = await client.post(f"/jobs/{job_id}/abort")
        assert again.status_code == 409
        assert "already 'aborted'" in again.json()["detail"]
        result = (await client.get(f"/jobs/{job_id}")).json()
        assert result["status"] == "aborted" and "measurements" not in result
        counts = (await client.get(f"/jobs/{job_id}/counts")).json()
        assert counts == {"status": "aborted"}
        missing = await client.post("/jobs/00000000-0000-4000-8000-000000000000/abort")
        assert missing.status_code == 404 and "not found" in missing.json()["detail"]


@pytest.mark.parametrize("suffix", ["", "/status", "/counts"])
async def test_unknown_job_is_404(suffix: str, emulator_app: FastAPI) -> None:
    async with client_for(emulator_app) as client:
        reply = await client.get(f"/jobs/no-such-job{suffix}")
    assert reply.status_code == 404
    assert reply.json()["detail"] == "Job 'no-such-job' not found; check the job id"


async def test_job_fail_rate_fails_jobs_with_a_message() -> None:
    app = create_app(EmulatorConfig(parallel=True, job_seconds=0, job_fail_rate=1.0))
    async with client_for(app) as client:
        job_id = (await client.post("/jobs", json=run_request())).json()["id"]
        status = (await client.get(f"/jobs/{job_id}/status")).json()
        result = (await client.get(f"/jobs/{job_id}")).json()
    assert status["status"] == "failed" and "emulated failure" in status["message"]
    assert result["status"] == "failed" and result["message"] == status["message"]


async def test_batch_measuring_different_qubits_fails_the_job(
    emulator_app: FastAPI,
) -> None:
    body = run_request()
    other = copy.deepcopy(body["circuits"][0])
    other["name"] = "other"
    other["instructions"][-1]["qubits"] = ["q0"]
    body["circuits"].append(other)
    async with client_for(emulator_app) as client:
        job_id = (await client.post("/jobs", json=body)).json()["id"]
        status = (await client.get(f"/jobs/{job_id}/status")).json()
    assert status["status"] == "failed"
    assert "must measure the same qubits" in status["message"]


async def test_big_circuits_are_simulated_off_the_loop(emulator_app: FastAPI) -> None:
    qubits = [f"QB{i}" for i in range(1, 21)]
    instructions = [
        {"name": "prx", "qubits": [q], "args": {"angle_t": 0.5, "phase_t": 0.0}} for q in qubits
    ] + [{"name": "measure", "qubits": qubits, "args": {"key": "all"}}]
    body = {"circuits": [{"name": "wide", "instructions": instructions}], "shots": 3}
    async with client_for(emulator_app) as client:
        job_id = (await client.post("/jobs", json=body)).json()["id"]
        result = (await client.get(f"/jobs/{job_id}")).json()
    assert result["measurements"] == [{"all": [[1] * 20] * 3}]


async def test_readout_noise_uses_the_architecture_figures() -> None:
    app = create_app(EmulatorConfig(seed=3, parallel=True, job_seconds=0, readout_noise=True))
    body = {
        "circuits": [
            {
                "name": "zeros",
                "instructions": [{"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}}],
            }
        ],
        "shots": 20_000,
    }
    async with client_for(app) as client:
        job_id = (await client.post("/jobs", json=body)).json()["id"]
        counts = (await client.get(f"/jobs/{job_id}/counts")).json()["counts_batch"][0]["counts"]
    p01 = app.state.emulator.architecture.readout_errors["QB1"][0]
    assert 0.0 < p01 < 0.05
    assert abs(counts["1"] / 20_000 - p01) < 0.006


# --- architecture and info routes -----------------------------------------------------------


async def test_architecture_routes(emulator_app: FastAPI) -> None:
    async with client_for(emulator_app) as client:
        dqa = DynamicQuantumArchitecture.model_validate(
            (await client.get("/api/v1/calibration/default/gates")).json()
        )
        by_id = await client.get(f"/api/v1/calibration/{dqa.calibration_set_id}/gates")
        unknown = await client.get("/api/v1/calibration/11111111-2222-4333-8444-555555555555/gates")
        garbage = await client.get("/api/v1/calibration/not-a-uuid/gates")
        qa = QuantumArchitecture.model_validate((await client.get("/quantum-architecture")).json())
    assert len(dqa.qubits) == 20 and len(dqa.couplings) == 30
    assert by_id.status_code == 200
    assert DynamicQuantumArchitecture.model_validate(by_id.json()) == dqa
    assert unknown.status_code == 404 and garbage.status_code == 404
    spec = qa.quantum_architecture
    assert spec.qubits == dqa.qubits
    assert len(spec.qubit_connectivity) == 30
    assert set(spec.operation_loci()) == {"prx", "cz", "measure", "barrier"}


async def test_star_and_file_architectures(tmp_path: Path) -> None:
    async with client_for(create_app(EmulatorConfig(arch="star"))) as client:
        star = (await client.get("/api/v1/calibration/default/gates")).json()
    assert star["qubits"] == ["QB1", "QB2", "QB3", "QB4", "QB5"]
    assert all("QB3" in locus for locus in star["gates"]["cz"]["implementations"]["tgss"]["loci"])
    path = tmp_path / "tiny.json"
    path.write_text((DATA / "dynamic_quantum_architecture.json").read_text())
    async with client_for(create_app(EmulatorConfig(arch=str(path)))) as client:
        tiny = (await client.get("/api/v1/calibration/default/gates")).json()
        qa = (await client.get("/quantum-architecture")).json()["quantum_architecture"]
    assert tiny["qubits"] == ["QB1", "QB2", "QB3"]
    assert tiny["gates"]["cz"]["override_default_implementation"] == {"QB2,QB3": "crf"}
    assert qa["name"] == "tiny"


async def test_info_routes(emulator_app: FastAPI) -> None:
    async with client_for(emulator_app) as client:
        libraries = (await client.get("/info/client-libraries")).json()
        health = await client.get("/health")
        about = (await client.get("/about")).json()
    assert libraries["iqm-client"]["min"] == "20.0" and libraries["iqm-client"]["max"] == "23.0"
    assert health.status_code == 200
    assert about["architecture"] == "garnet" and about["iqm_server"] is False


# --- observability --------------------------------------------------------------------------


async def test_stats_count_by_route_and_status(emulator_app: FastAPI) -> None:
    async with client_for(emulator_app) as client:
        job_id = (await client.post("/jobs", json=run_request())).json()["id"]
        await client.get(f"/jobs/{job_id}/status")
        await client.get(f"/jobs/{job_id}/status")
        await client.get("/jobs/nope/status")
        await client.get("/no/such/route")
        stats = (await client.get("/_emulator/stats")).json()
        assert stats["requests_total"] == 5  # the stats request itself is not counted
        assert stats["requests_by_route"] == {
            "POST /jobs": 1,
            "GET /jobs/{job_id}/status": 3,
            "GET <no route>": 1,
        }
        assert stats["responses_by_status"] == {"201": 1, "200": 2, "404": 2}
        assert stats["jobs_by_status"] == {"ready": 1}
        assert stats["jobs_created"] == 1
        reset = await client.post("/_emulator/reset-stats")
        assert reset.json()["requests_total"] == 0
        assert reset.json()["jobs_by_status"] == {"ready": 1}  # the job store is kept
    assert emulator_app.state.emulator.stats()["requests_total"] == 0


async def test_duplicate_submissions_within_a_minute() -> None:
    clock = FakeClock()
    app = app_with_clock(clock, parallel=True, job_seconds=0)
    raw = json.dumps(run_request()).encode()
    headers = {"content-type": "application/json"}
    async with client_for(app) as client:
        for _ in range(3):
            assert (await client.post("/jobs", content=raw, headers=headers)).status_code == 201
        await client.post("/jobs", json=run_request(shots=5))  # a different body
        clock.advance(61.0)
        await client.post("/jobs", content=raw, headers=headers)  # too late to be a duplicate
        stats = (await client.get("/_emulator/stats")).json()
    assert stats["duplicate_submissions"] == 2
    assert stats["jobs_created"] == 5


# --- validation at submit -------------------------------------------------------------------


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = run_request()
    change(body)
    return body


def _set_instruction(index: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["circuits"][0]["instructions"][index].update(fields)

    return change


REJECTED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown qubit": (
        lambda b: b.update(
            qubit_mapping=[
                {"logical_name": "q0", "physical_name": "QB1"},
                {"logical_name": "q1", "physical_name": "QB99"},
            ]
        ),
        "qubit_mapping: 'q1' is mapped to 'QB99'",
    ),
    "unknown qubit without mapping": (
        lambda b: (
            b.pop("qubit_mapping"),
            b["circuits"][0]["instructions"][0].update(qubits=["QB77"]),
        ),
        "circuits.0.instructions.0: 'prx' acts on 'QB77'",
    ),
    "uncoupled cz": (
        lambda b: b["qubit_mapping"][1].update(physical_name="QB20"),
        "circuits.0.instructions.2: 'cz' on (QB1, QB20) is not calibrated",
    ),
    "unknown gate": (
        _set_instruction(0, name="hadamard", args={}),
        "circuits.0.instructions.0: name: unknown operation 'hadamard'",
    ),
    "gate not calibrated": (
        _set_instruction(2, name="move"),
        "'move' is not calibrated on this QPU",
    ),
    "unknown implementation": (
        _set_instruction(2, implementation="fancy"),
        "'cz' has no implementation 'fancy'",
    ),
    "duplicate keys": (
        lambda b: b["circuits"][0]["instructions"].append(
            {"name": "measure", "qubits": ["q0"], "args": {"key": "m"}}
        ),
        "measurement key 'm' is used twice",
    ),
    "shots zero": (lambda b: b.update(shots=0), "shots: Input should be greater than 0"),
    "too many shots": (lambda b: b.update(shots=100_001), "exceed this server's limit of 100000"),
    "mapping misses a qubit": (
        lambda b: b["qubit_mapping"].pop(),
        "uses qubits ['q1'] that the mapping does not cover",
    ),
    "mapping not injective": (
        lambda b: b["qubit_mapping"][1].update(physical_name="QB1"),
        "physical qubit 'QB1' is the target of two logical qubits",
    ),
    "unknown field": (lambda b: b.update(priority=9), "priority: Extra inputs are not permitted"),
    "unknown calibration set": (
        lambda b: b.update(calibration_set_id="11111111-2222-4333-8444-555555555555"),
        "calibration_set_id: unknown calibration set",
    ),
    "cc_prx not calibrated": (
        _set_instruction(
            0,
            name="cc_prx",
            args={"angle_t": 0.5, "phase_t": 0, "feedback_key": "f", "feedback_qubit": "q1"},
        ),
        "'cc_prx' is not calibrated on this QPU",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
async def test_submit_validation_is_a_400_naming_the_problem(
    case: str,
    emulator_app: FastAPI,
) -> None:
    change, expected = REJECTED[case]
    async with client_for(emulator_app) as client:
        reply = await client.post("/jobs", json=_mutated(change))
    assert reply.status_code == 400, reply.text
    assert expected in reply.json()["detail"]
    assert emulator_app.state.emulator.stats()["jobs_created"] == 0


async def test_malformed_json_is_a_400(emulator_app: FastAPI) -> None:
    async with client_for(emulator_app) as client:
        reply = await client.post("/jobs", content=b"{not json", headers={"content-type": "x"})
    assert reply.status_code == 400 and "Invalid run request" in reply.json()["detail"]


async def test_accepts_what_old_and_current_clients_send(
    emulator_app: FastAPI,
) -> None:
    era_a = json.loads((DATA / "run_request_era_a.json").read_text())
    async with client_for(emulator_app) as client:
        old = await client.post("/jobs", json=era_a)
        expect = await client.post(
            "/jobs", json=run_request(), headers={"Expect": "100-continue", "User-Agent": "x"}
        )
        minimal = await client.post(
            "/jobs", json={"circuits": run_request()["circuits"], "shots": 1,
                           "qubit_mapping": run_request()["qubit_mapping"]}
        )  # fmt: skip
    assert old.status_code == 201, old.text
    assert expect.status_code == 201 and minimal.status_code == 201


async def test_move_validation_on_a_resonator_chip() -> None:
    def body(middle: str, mode: str) -> dict[str, Any]:
        return {
            "circuits": [
                {
                    "name": "sandwich",
                    "instructions": [
                        {"name": "move", "qubits": ["QB1", "COMP_R"], "args": {}},
                        {"name": middle, "qubits": ["QB1"],
                         "args": {"angle_t": 0.5, "phase_t": 0.0} if middle == "prx" else {}},
                        {"name": "move", "qubits": ["QB1", "COMP_R"], "args": {}},
                        {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}},
                    ],
                }
            ],
            "shots": 4,
            "move_validation_mode": mode,
            "move_gate_frame_tracking_mode": "none",
        }  # fmt: skip

    app = create_app(EmulatorConfig(arch="star-resonator", parallel=True, job_seconds=0))
    async with client_for(app) as client:
        strict = await client.post("/jobs", json=body("prx", "strict"))
        allow = await client.post("/jobs", json=body("prx", "allow_prx"))
        barrier = await client.post("/jobs", json=body("barrier", "strict"))
        result = (await client.get(f"/jobs/{allow.json()['id']}")).json()
    assert strict.status_code == 400 and "while its state is in a resonator" in strict.text
    assert allow.status_code == 201 and barrier.status_code == 201
    # The prx flipped the emptied QB1; the second move swapped that excitation into COMP_R.
    assert result["measurements"] == [{"m": [[0]] * 4}]


async def test_no_blocking_calls_on_the_event_loop() -> None:
    blockbuster = pytest.importorskip("blockbuster")
    wide = [f"QB{i}" for i in range(1, 16)]  # big enough to be simulated in a worker thread
    body = {
        "circuits": [
            {
                "name": "wide",
                "instructions": [
                    *({"name": "prx", "qubits": [q], "args": {"angle_t": 0.5, "phase_t": 0}}
                      for q in wide),
                    {"name": "measure", "qubits": wide, "args": {"key": "m"}},
                ],
            }
        ],
        "shots": 10,
    }  # fmt: skip
    form = {"client_id": "iqm_client", "grant_type": "password"}
    with blockbuster.blockbuster_ctx():
        app = create_app(EmulatorConfig(parallel=True, job_seconds=0, require_auth=True))
        config = app.state.emulator.config
        async with client_for(app) as client:
            tokens = await client.post(
                "/realms/cortex/protocol/openid-connect/token",
                data={**form, "username": config.username, "password": config.password},
            )
            headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
            job_id = (await client.post("/jobs", json=body, headers=headers)).json()["id"]
            result = (await client.get(f"/jobs/{job_id}", headers=headers)).json()
            counts = (await client.get(f"/jobs/{job_id}/counts", headers=headers)).json()
    assert result["measurements"] == [{"m": [[1] * 15] * 10}]
    assert counts["counts_batch"][0]["counts"] == {"1" * 15: 10}


# --- lifetime -------------------------------------------------------------------------------


async def _serve_every_route_once() -> tuple[weakref.ref[Emulator], weakref.ref[JobRecord]]:
    """Send each route of a fresh app one request; only weak references leave this frame."""
    app = create_app(EmulatorConfig(seed=8, parallel=False, job_seconds=60.0, require_auth=True))
    config = app.state.emulator.config
    form = {"client_id": "iqm_client", "username": config.username, "password": config.password}
    async with client_for(app) as client:
        path = "/realms/cortex/protocol/openid-connect"
        tokens = await client.post(f"{path}/token", data={**form, "grant_type": "password"})
        headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        job_id = (await client.post("/jobs", json=run_request(), headers=headers)).json()["id"]
        replies = [
            await client.get(f"/jobs/{job_id}{suffix}", headers=headers)
            for suffix in ("", "/status", "/counts")
        ]
        replies += [
            await client.post(f"/jobs/{job_id}/abort", headers=headers),
            await client.get("/quantum-architecture", headers=headers),
            await client.get("/api/v1/calibration/default/gates", headers=headers),
            await client.post("/_emulator/reset-stats"),
        ]
        open_routes = ("/info/client-libraries", "/health", "/about", "/_emulator/stats")
        replies += [await client.get(route) for route in open_routes]
        refresh = {"client_id": "iqm_client", "refresh_token": tokens.json()["refresh_token"]}
        replies.append(await client.post(f"{path}/logout", data=refresh))
    assert [reply.status_code for reply in replies] == [200] * 11 + [204]
    emulator: Emulator = app.state.emulator
    return weakref.ref(emulator), weakref.ref(emulator.jobs[job_id])


async def test_a_dropped_app_frees_its_emulator_and_jobs() -> None:
    """FastAPI caches data per endpoint function for the whole process: handlers closing over
    the emulator would keep every app ever created, with all its jobs, alive."""
    emulator, job = await _serve_every_route_once()
    gc.collect()
    assert emulator() is None and job() is None
