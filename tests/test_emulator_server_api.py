"""The emulator's IQM Server API v1 ("era F") routes, in-process (httpx.ASGITransport)."""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from iqm_async.emulator import Emulator, EmulatorConfig, create_app
from iqm_async.emulator.__main__ import config_from_args
from iqm_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

V1 = "/api/v1"
HALF_PI = math.pi / 2
TOKEN_URL = "/realms/cortex/protocol/openid-connect/token"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def prx(qubit: str, angle: float, phase: float = HALF_PI) -> dict[str, Any]:
    return {
        "name": "prx",
        "locus": [qubit],
        "args": {"angle": angle, "phase": phase},
        "implementation": None,
    }


def bell_circuit(name: str = "bell") -> dict[str, Any]:
    return {
        "name": name,
        "instructions": [
            prx("alice", HALF_PI),
            prx("bob", HALF_PI),
            {"name": "cz", "locus": ["alice", "bob"], "args": {}, "implementation": None},
            prx("bob", -HALF_PI),
            {"name": "measure", "locus": ["alice", "bob"], "args": {"key": "m"},
             "implementation": None},
        ],
        "metadata": None,
    }  # fmt: skip


def definition(n_circuits: int = 1, **overrides: Any) -> dict[str, Any]:
    """A CircuitJobDefinition exactly as iqm-client 36 sends it (nulls and echoes included)."""
    body: dict[str, Any] = {
        "circuits": [bell_circuit(f"bell{i}") for i in range(n_circuits)],
        "calibration_set_id": None,
        "qubit_mapping": [
            {"logical_name": "alice", "physical_name": "QB1"},
            {"logical_name": "bob", "physical_name": "QB2"},
        ],
        "shots": 200,
        "max_circuit_duration_over_t2": None,
        "heralding_mode": "none",
        "move_gate_validation": "strict",
        "move_gate_frame_tracking": "full",
        "active_reset_cycles": None,
        "dd_mode": "disabled",
        "dd_strategy": None,
        "move_validation_mode": "strict",
        "move_gate_frame_tracking_mode": "full",
    }
    body.update(overrides)
    return body


@asynccontextmanager
async def server(
    clock: FakeClock | None = None, **config: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Emulator]]:
    settings: dict[str, Any] = {"seed": 7, "parallel": True, "job_seconds": 0.0} | config
    emulator = Emulator(EmulatorConfig(**settings), clock=clock)
    transport = httpx.ASGITransport(app=create_app(emulator=emulator))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        yield client, emulator


def assert_server_error(reply: httpx.Response, status: int) -> dict[str, Any]:
    """The reply is ``status`` with an IQMServerError body (a string ``message``)."""
    assert reply.status_code == status, reply.text
    body: dict[str, Any] = reply.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["source"] == "iqm-server"
    assert body["error_code"] is None or isinstance(body["error_code"], str)
    return body


async def submit(client: httpx.AsyncClient, qc: str = "garnet", **overrides: Any) -> str:
    reply = await client.post(
        f"{V1}/jobs/{qc}/circuit?use_timeslot=false", json=definition(**overrides)
    )
    assert reply.status_code == 201, reply.text
    job_id: str = reply.json()["id"]
    return job_id


async def job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    reply = await client.get(f"{V1}/jobs/{job_id}")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


# --- quantum computers and architectures ------------------------------------------------------


async def test_quantum_computers_architectures_about_health() -> None:
    async with server(quantum_computers=("garnet", "star-resonator")) as (client, em):
        listed = (await client.get(f"{V1}/quantum-computers")).json()["quantum_computers"]
        default = await client.get(
            f"{V1}/calibration-sets/garnet/default/dynamic-quantum-architecture"
        )
        garnet = em.devices["garnet"].architecture
        by_id = await client.get(
            f"{V1}/calibration-sets/garnet/{garnet.calibration_set_id}/dynamic-quantum-architecture"
        )
        resonator = await client.get(
            f"{V1}/calibration-sets/star-resonator/default/dynamic-quantum-architecture"
        )
        v1_gates = await client.get("/api/v1/calibration/default/gates")
        sqa = await client.get(
            f"{V1}/quantum-computers/star-resonator/artifacts/static-quantum-architectures"
        )
        about = await client.get(f"{V1}/about")
        qc_about = await client.get(f"{V1}/quantum-computers/garnet/artifacts/about")
        health = await client.get(f"{V1}/quantum-computers/star-resonator/health")
    assert [(q["alias"], q["display_name"]) for q in listed] == [
        ("garnet", "Garnet"), ("star-resonator", "Star-Resonator"),
    ]  # fmt: skip
    assert len({q["id"] for q in listed}) == 2
    assert default.json() == by_id.json() == v1_gates.json()
    assert default.json()["calibration_set_id"] == garnet.calibration_set_id
    assert resonator.json()["computational_resonators"] == ["COMP_R"]
    (static,) = sqa.json()
    assert static["qubits"] == ["QB1", "QB2", "QB3", "QB4", "QB5"] and static["dut_label"]
    assert static["computational_resonators"] == ["COMP_R"]
    assert ["QB1", "COMP_R"] in static["connectivity"]
    for reply in (about, qc_about):
        assert isinstance(reply.json()["version"], str)
        assert all(key.startswith("iqm-") for key in reply.json()["software_versions"])
    assert health.status_code == 200


async def test_unknown_quantum_computer_and_calibration_set_are_404() -> None:
    async with server(quantum_computers=("garnet", "star")) as (client, _):
        replies = [
            await client.get(f"{V1}/calibration-sets/deneb/default/dynamic-quantum-architecture"),
            await client.get(
                f"{V1}/quantum-computers/deneb/artifacts/static-quantum-architectures"
            ),
            await client.get(f"{V1}/quantum-computers/deneb/health"),
            await client.post(f"{V1}/jobs/deneb/circuit", json=definition()),
        ]
        calset = await client.get(
            f"{V1}/calibration-sets/garnet/{'0' * 8}-0000-0000-0000-{'0' * 12}"
            "/dynamic-quantum-architecture"
        )
    for reply in replies:
        body = assert_server_error(reply, 404)
        assert "'deneb'" in body["message"] and "garnet, star" in body["message"]
    assert "not found" in assert_server_error(calset, 404)["message"]


# --- a job's life -----------------------------------------------------------------------------


async def test_bell_circuit_round_trip() -> None:
    async with server() as (client, _):
        reply = await client.post(
            f"{V1}/jobs/garnet/circuit?use_timeslot=false", json=definition(2)
        )
        job_id = reply.json()["id"]
        data = await job(client, job_id)
        measurements = (await client.get(f"{V1}/jobs/{job_id}/artifacts/measurements")).json()
        counts = (await client.get(f"{V1}/jobs/{job_id}/artifacts/measurement_counts")).json()
        payload = (await client.get(f"{V1}/jobs/{job_id}/payload")).json()
    assert reply.status_code == 201 and reply.json()["type"] == "circuit"
    assert data["status"] == "completed" and data["queue_position"] is None
    assert data["errors"] == [] and data["messages"] == []
    assert data["artifacts"] == [{"type": "measurements"}, {"type": "measurement_counts"}]
    assert data["compilation"]["calibration_set_id"]
    assert data["execution"] == {"progress": {"circuits": {"value": 2, "max_value": 2}}}
    stamps = {(e["source"], e["status"]) for e in data["timeline"]}
    assert {
        ("iqm-server", "created"),
        ("iqm-server", "ready"),
        ("iqm-station-control", "received"),
        ("iqm-station-control", "completed"),
    } <= stamps
    assert len(measurements) == 2
    for circuit in measurements:
        shots = circuit["m"]
        assert len(shots) == 200 and {tuple(s) for s in shots} <= {(0, 0), (1, 1)}
        assert {tuple(s) for s in shots} == {(0, 0), (1, 1)}  # both outcomes at 200 shots
    for histogram in counts:
        assert histogram["measurement_keys"] == ["m"]
        assert set(histogram["counts"]) <= {"00", "11"} and sum(histogram["counts"].values()) == 200
    assert payload == definition(2)  # the echo keeps radians, nulls and both option names


async def test_definition_variants_are_accepted() -> None:
    mapping_dict = {"alice": "QB1", "bob": "QB2"}
    old_names = definition()
    del old_names["move_gate_validation"], old_names["move_gate_frame_tracking"]
    new_names = definition()
    del new_names["move_validation_mode"], new_names["move_gate_frame_tracking_mode"]
    with_impl = definition()
    with_impl["circuits"][0]["instructions"][2]["implementation"] = "tgss"  # garnet's cz
    with_impl["circuits"][0]["metadata"] = {"origin": "test"}
    bad_impl = copy.deepcopy(with_impl)
    bad_impl["circuits"][0]["instructions"][2]["implementation"] = "slow"
    async with server() as (client, emulator):
        replies = [
            await client.post(
                f"{V1}/jobs/garnet/circuit", json=definition(qubit_mapping=mapping_dict)
            ),
            await client.post(f"{V1}/jobs/garnet/circuit", json=old_names),
            await client.post(f"{V1}/jobs/garnet/circuit", json=new_names),
        ]
        impl_reply = await client.post(f"{V1}/jobs/garnet/circuit", json=with_impl)
        bad_impl_reply = await client.post(f"{V1}/jobs/garnet/circuit", json=bad_impl)
    assert [r.status_code for r in replies] == [201, 201, 201], [r.text for r in replies]
    record = emulator.job_record(replies[0].json()["id"])
    assert record is not None
    first = record.request.circuits[0].instructions[0]
    assert first.qubits == ("alice",) and first.args == {"angle_t": 0.25, "phase_t": 0.25}
    assert impl_reply.status_code == 201, impl_reply.text
    assert "no implementation 'slow'" in assert_server_error(bad_impl_reply, 400)["message"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"shots": 0}, "shots"),
        ({"circuits": ["%qir"]}, "QIR"),
        ({"move_validation_mode": "none"}, "disagree"),
        ({"qubit_mapping": [{"logical_name": "alice", "physical_name": "QB1"},
                            {"logical_name": "bob", "physical_name": "QB9"}]}, "not calibrated"),
        ({"calibration_set_id": "00000000-0000-0000-0000-000000000000"}, "calibration set"),
        ({"unknown_option": 1}, "unknown_option"),
    ],
)  # fmt: skip
async def test_refused_definitions_are_400(change: dict[str, Any], expected: str) -> None:
    async with server() as (client, emulator):
        reply = await client.post(f"{V1}/jobs/garnet/circuit", json=definition(**change))
        assert emulator.jobs == {}
    assert expected in assert_server_error(reply, 400)["message"]


async def test_refused_instructions_are_400() -> None:
    unknown_gate = definition()
    unknown_gate["circuits"][0]["instructions"][0]["name"] = "u"
    bad_angle = definition()
    bad_angle["circuits"][0]["instructions"][0]["args"]["angle"] = "half"
    async with server() as (client, _):
        gate = await client.post(f"{V1}/jobs/garnet/circuit", json=unknown_gate)
        angle = await client.post(f"{V1}/jobs/garnet/circuit", json=bad_angle)
    assert "unknown operation 'u'" in assert_server_error(gate, 400)["message"]
    assert "radians" in assert_server_error(angle, 400)["message"]


async def test_queue_positions_count_down_and_progress_grows() -> None:
    clock = FakeClock()
    async with server(clock, parallel=False, job_seconds=1.0) as (client, _):
        ids = [await submit(client, n_circuits=4) for _ in range(3)]

        async def view() -> list[tuple[str, int | None]]:
            return [((d := await job(client, i))["status"], d["queue_position"]) for i in ids]

        # Each job: 0.2 s compilation, then 0.8 s on the QPU (job 1 at 0.2-1.0, 2 at 1.0-1.8,
        # 3 at 1.8-2.6 after submission).
        at_start = await view()
        clock.now += 0.5
        first_running = await view()
        progress = (await job(client, ids[0]))["execution"]["progress"]["circuits"]
        clock.now += 0.7
        second_running = await view()
        clock.now += 1.0
        third = await job(client, ids[2])
        clock.now += 1.0
        done = await view()
    assert at_start == [("waiting", 0), ("waiting", 1), ("waiting", 2)]  # jobs ahead
    assert first_running == [("processing", None), ("waiting", 0), ("waiting", 1)]
    assert progress == {"value": 1, "max_value": 4}  # 0.3 s of 0.8 s
    assert second_running == [("completed", None), ("processing", None), ("waiting", 0)]
    assert third["status"] == "processing"
    assert third["execution"]["progress"]["circuits"] == {"value": 2, "max_value": 4}
    assert done == [("completed", None)] * 3


async def test_two_quantum_computers_have_separate_queues() -> None:
    clock = FakeClock()
    config = {"parallel": False, "job_seconds": 1.0, "quantum_computers": ("garnet", "star")}
    async with server(clock, **config) as (client, emulator):
        garnet = [await submit(client, "garnet") for _ in range(2)]
        star_mapping = [{"logical_name": "alice", "physical_name": "QB3"},
                        {"logical_name": "bob", "physical_name": "QB1"}]  # fmt: skip
        star = [await submit(client, "star", qubit_mapping=star_mapping) for _ in range(2)]
        positions = [(await job(client, i))["queue_position"] for i in garnet + star]
        clock.now += 0.5
        running = [(await job(client, i))["status"] for i in garnet + star]
        # A circuit on garnet's QB1-QB2 does not run on star (QB1-QB2 are not coupled there).
        refused = await client.post(f"{V1}/jobs/star/circuit", json=definition())
    assert positions == [0, 1, 0, 1]
    assert running == ["processing", "waiting", "processing", "waiting"]
    assert emulator.devices["garnet"].queue is not emulator.devices["star"].queue
    assert "not calibrated" in assert_server_error(refused, 400)["message"]


async def test_cancel_moves_the_queue_and_delete_forgets() -> None:
    clock = FakeClock()
    async with server(clock, parallel=False, job_seconds=1.0) as (client, _):
        first, second, third = [await submit(client) for _ in range(3)]
        clock.now += 0.5
        cancel_running = await client.post(f"{V1}/jobs/{first}/cancel")
        cancel_waiting = await client.post(f"{V1}/jobs/{third}/cancel")
        second_data = await job(client, second)
        clock.now += 1.0
        finished = await job(client, second)
        again = await client.post(f"{V1}/jobs/{second}/cancel")
        artifacts = await client.get(f"{V1}/jobs/{first}/artifacts/measurements")
        deleted = await client.delete(f"{V1}/jobs/{first}")
        gone = [await client.get(f"{V1}/jobs/{first}"), await client.delete(f"{V1}/jobs/{first}")]
    assert cancel_running.status_code == 200 and cancel_running.json()["status"] == "cancelled"
    assert cancel_waiting.json()["status"] == "cancelled"
    assert second_data["status"] == "processing"  # the QPU went to it at once
    assert finished["status"] == "completed"
    assert "already completed" in assert_server_error(again, 409)["message"]
    assert "cancelled" in assert_server_error(artifacts, 409)["message"]
    assert 200 <= deleted.status_code < 300
    for reply in gone:
        assert_server_error(reply, 404)


async def test_failed_job_reports_errors_and_no_artifacts() -> None:
    async with server(job_fail_rate=1.0) as (client, _):
        job_id = await submit(client)
        data = await job(client, job_id)
        counts = await client.get(f"{V1}/jobs/{job_id}/artifacts/measurement_counts")
    assert data["status"] == "failed" and data["artifacts"] == []
    (error,) = data["errors"]
    assert "emulated failure" in error["message"] and error["source"] and error["error_code"]
    assert_server_error(counts, 409)


async def test_artifacts_of_a_waiting_job_are_409() -> None:
    clock = FakeClock()
    async with server(clock, job_seconds=1.0) as (client, _):
        job_id = await submit(client)
        reply = await client.get(f"{V1}/jobs/{job_id}/artifacts/measurements")
    assert "waiting" in assert_server_error(reply, 409)["message"]


# --- both APIs, one store ---------------------------------------------------------------------


async def test_v1_and_server_api_share_the_store_per_quantum_computer() -> None:
    v1_request = {
        "circuits": [{"name": "c", "instructions": [
            {"name": "prx", "qubits": ["QB1"], "args": {"angle_t": 0.5, "phase_t": 0.0}},
            {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}}]}],
        "shots": 10,
    }  # fmt: skip
    async with server(quantum_computers=("garnet", "star")) as (client, _):
        v1_id = (await client.post("/jobs", json=v1_request)).json()["id"]
        on_garnet = await submit(client, "garnet")
        on_star = await submit(client, "star", qubit_mapping=[
            {"logical_name": "alice", "physical_name": "QB3"},
            {"logical_name": "bob", "physical_name": "QB1"}])  # fmt: skip
        v1_job_here = await job(client, v1_id)
        v1_payload = (await client.get(f"{V1}/jobs/{v1_id}/payload")).json()
        v1_counts = (await client.get(f"{V1}/jobs/{v1_id}/artifacts/measurement_counts")).json()
        garnet_on_v1 = await client.get(f"/jobs/{on_garnet}/status")
        star_on_v1 = [
            await client.get(f"/jobs/{on_star}"),
            await client.post(f"/jobs/{on_star}/abort"),
            await client.delete(f"/jobs/{on_star}"),
        ]
        star_still = await job(client, on_star)
    assert len({v1_id, on_garnet, on_star}) == 3
    assert v1_job_here["status"] == "completed"
    assert v1_payload["circuits"][0]["instructions"][0]["args"] == {"angle": math.pi, "phase": 0.0}
    assert v1_counts == [{"measurement_keys": ["m"], "counts": {"1": 10}}]
    assert garnet_on_v1.json()["status"] == "ready"
    assert [r.status_code for r in star_on_v1] == [404, 404, 404]
    assert star_still["status"] == "completed"


# --- error bodies, auth, faults, stats --------------------------------------------------------

PROTECTED = [
    ("GET", f"{V1}/quantum-computers"),
    ("GET", f"{V1}/calibration-sets/garnet/default/dynamic-quantum-architecture"),
    ("GET", f"{V1}/quantum-computers/garnet/artifacts/static-quantum-architectures"),
    ("GET", f"{V1}/quantum-computers/garnet/artifacts/about"),
    ("POST", f"{V1}/jobs/garnet/circuit"),
    ("GET", f"{V1}/jobs/some-id"),
    ("GET", f"{V1}/jobs/some-id/payload"),
    ("GET", f"{V1}/jobs/some-id/artifacts/measurements"),
    ("GET", f"{V1}/jobs/some-id/artifacts/measurement_counts"),
    ("POST", f"{V1}/jobs/some-id/cancel"),
    ("DELETE", f"{V1}/jobs/some-id"),
]


async def test_auth_on_every_route_with_server_error_bodies() -> None:
    async with server(require_auth=True, username="u", password="p") as (client, _):
        form = {
            "client_id": "iqm_client",
            "grant_type": "password",
            "username": "u",
            "password": "p",
        }
        token = (await client.post(TOKEN_URL, data=form)).json()["access_token"]
        good = {"Authorization": f"Bearer {token}"}
        for method, path in PROTECTED:
            missing = await client.request(method, path)
            bad = await client.request(method, path, headers={"Authorization": "Bearer x.y.z"})
            assert_server_error(missing, 401)
            assert missing.headers["www-authenticate"] == "Bearer"
            assert assert_server_error(bad, 401)["error_code"] == "unauthorized"
            assert (await client.request(method, path, headers=good)).status_code != 401
        open_routes = [
            await client.get(f"{V1}/about"),
            await client.get(f"{V1}/quantum-computers/garnet/health"),
        ]
        job_id = (
            await client.post(f"{V1}/jobs/garnet/circuit", json=definition(), headers=good)
        ).json()["id"]
        assert (await client.get(f"{V1}/jobs/{job_id}", headers=good)).status_code == 200
    assert [r.status_code for r in open_routes] == [200, 200]


async def test_framework_errors_have_server_error_bodies() -> None:
    async with server() as (client, _):
        bad_query = await client.post(
            f"{V1}/jobs/garnet/circuit?use_timeslot=maybe", json=definition()
        )
        no_route = await client.get(f"{V1}/no-such-route")
        wrong_method = await client.put(f"{V1}/jobs/some-id")
        not_json = await client.post(f"{V1}/jobs/garnet/circuit", content=b"{")
        v1_missing = await client.get("/no-such-route")
    assert "use_timeslot" in assert_server_error(bad_query, 422)["message"]
    assert_server_error(no_route, 404)
    assert_server_error(wrong_method, 405)
    assert_server_error(not_json, 400)
    assert v1_missing.status_code == 404 and "message" not in v1_missing.json()  # V1 unchanged


@pytest.mark.parametrize(
    ("rates", "status"), [({"fail_rate": 1.0}, 500), ({"throttle_rate": 1.0}, 429)]
)
async def test_injected_faults_have_server_error_bodies(
    rates: dict[str, float], status: int
) -> None:
    async with server(retry_after_s=0.05, **rates) as (client, emulator):
        server_api = await client.get(f"{V1}/quantum-computers")
        v1 = await client.get("/quantum-architecture")
        stats = emulator.stats()
    body = server_api.json()
    assert isinstance(body["message"], str) and body["source"] == "iqm-server"
    assert server_api.status_code >= 500 if status == 500 else server_api.status_code == 429
    assert "message" not in v1.json() and v1.json()["detail"]
    assert sum(stats["faults_by_route"][f"GET {V1}/quantum-computers"].values()) == 1


async def test_stats_count_route_templates() -> None:
    async with server() as (client, emulator):
        job_id = await submit(client)
        await job(client, job_id)
        await client.get(f"{V1}/jobs/{job_id}/artifacts/measurements")
        routes = emulator.stats()["requests_by_route"]
    assert routes[f"POST {V1}/jobs/{{qc}}/circuit"] == 1
    assert routes[f"GET {V1}/jobs/{{job_id}}"] == 1
    assert routes[f"GET {V1}/jobs/{{job_id}}/artifacts/measurements"] == 1
    assert emulator.stats()["jobs_created"] == 1


# --- configuration ----------------------------------------------------------------------------


def test_arch_and_quantum_computers_name_the_same_first_computer() -> None:
    assert EmulatorConfig().quantum_computers == ("garnet",)
    assert EmulatorConfig(arch="star").quantum_computers == ("star",)
    both = EmulatorConfig(quantum_computers=("star-resonator", "garnet"))
    assert both.arch == "star-resonator"
    assert EmulatorConfig(arch="star", quantum_computers=("star", "garnet")).arch == "star"
    with pytest.raises(ConfigurationError, match="first"):
        EmulatorConfig(arch="star", quantum_computers=("garnet", "star"))
    with pytest.raises(ConfigurationError, match="twice"):
        EmulatorConfig(quantum_computers=("star", "star"))
    with pytest.raises(ConfigurationError):
        EmulatorConfig(quantum_computers=())
    emulator = Emulator(both)
    assert list(emulator.devices) == ["star-resonator", "garnet"]
    assert emulator.architecture.name == "star-resonator"
    assert emulator.queue is emulator.devices["star-resonator"].queue


def test_cli_flag() -> None:
    config, _, _ = config_from_args(["--quantum-computers", "garnet,star-resonator"])
    assert config.quantum_computers == ("garnet", "star-resonator") and config.arch == "garnet"
    config, _, _ = config_from_args(["--arch", "star"])
    assert config.quantum_computers == ("star",)
