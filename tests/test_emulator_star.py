"""The emulator's star chips ``deneb`` (6 qubits) and ``sirius`` (16) around resonator CR1:
their architectures and metrics, MOVE validation on both APIs, and the MOVE simulation."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.architectures import load_architecture

pytestmark = pytest.mark.anyio

V1 = "/api/v1"


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator")


@pytest.mark.parametrize(("name", "size"), [("deneb", 6), ("sirius", 16)])
def test_star_chips_have_a_resonator_and_metrics(name: str, size: int) -> None:
    arch = load_architecture(name)
    qubits = [f"QB{i}" for i in range(1, size + 1)]
    assert arch.dqa.qubits == qubits and arch.dqa.computational_resonators == ["CR1"]
    for gate in ("cz", "move"):
        assert arch.dqa.loci(gate) == [(q, "CR1") for q in qubits]
    metrics = arch.metrics
    assert metrics is not None
    for q in qubits:
        move, cz = metrics.move(q, "CR1"), metrics.cz(q, "CR1")
        assert move is not None and 0.97 <= move <= 0.995
        assert cz is not None and 0.975 <= cz <= 0.996
        quality = metrics.qubit(q)
        assert quality.prx_fidelity is not None and quality.t1_s is not None
        assert quality.readout_error_0_to_1 == arch.readout_errors[q][0]


def v1_instruction(name: str, *qubits: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "qubits": list(qubits), "args": args}


def server_instruction(name: str, *qubits: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "locus": list(qubits), "args": args, "implementation": None}


def sandwich(make: Any, middle: dict[str, Any]) -> list[dict[str, Any]]:
    """A Bell pair through the resonator, with ``middle`` inside QB2's sandwich."""
    return [
        make("move", "QB2", "CR1"),
        middle,
        make("cz", "QB1", "CR1"),
        make("move", "QB2", "CR1"),
        make("measure", "QB1", key="a"),
        make("measure", "QB2", key="b"),
    ]


async def test_a_bad_sandwich_is_a_400_naming_the_instruction_on_both_apis() -> None:
    app = create_app(
        EmulatorConfig(seed=1, parallel=True, job_seconds=0.0, quantum_computers=("deneb",))
    )
    v1_bad = sandwich(v1_instruction, v1_instruction("prx", "QB2", angle_t=0.5, phase_t=0.0))
    server_bad = sandwich(
        server_instruction, server_instruction("prx", "QB2", angle=math.pi, phase=0.0)
    )
    async with client_for(app) as client:
        v1 = await client.post("/jobs", json={"circuits": [{"name": "c", "instructions": v1_bad}],
                                              "shots": 4})  # fmt: skip
        server = await client.post(
            f"{V1}/jobs/deneb/circuit",
            json={"circuits": [{"name": "c", "instructions": server_bad}], "shots": 4},
        )
        twice = await client.post(
            "/jobs",
            json={
                "circuits": [
                    {
                        "name": "two",
                        "instructions": [
                            v1_instruction("move", "QB1", "CR1"),
                            v1_instruction("move", "QB2", "CR1"),
                            v1_instruction("measure", "QB3", key="m"),
                        ],
                    }
                ],
                "shots": 4,
            },
        )
    assert v1.status_code == 400 and server.status_code == 400
    for reply in (v1, server):
        assert "circuits.0.instructions.1: 'prx' acts on ['QB2'] while its state" in reply.text
    assert twice.status_code == 400
    assert "circuits.0.instructions.1: resonator 'CR1' already holds the state of 'QB1'" in (
        twice.text
    )


async def test_a_cz_through_the_resonator_entangles_the_pair() -> None:
    # H-like prx on both, MOVE(QB2) CZ(QB1, CR1) MOVE(QB2), prx back on QB2: a Bell pair,
    # which needs the CZ's phase on the state QB2 left in the resonator.
    app = create_app(EmulatorConfig(seed=2, parallel=True, job_seconds=0.0, arch="deneb"))
    half = dict(angle_t=0.25, phase_t=0.25)
    instructions = [
        v1_instruction("prx", "QB1", **half),
        v1_instruction("prx", "QB2", **half),
        *sandwich(v1_instruction, v1_instruction("barrier", "QB2"))[:4],
        v1_instruction("prx", "QB2", angle_t=-0.25, phase_t=0.25),
        v1_instruction("measure", "QB1", "QB2", key="m"),
    ]
    async with client_for(app) as client:
        submitted = await client.post(
            "/jobs", json={"circuits": [{"name": "bell", "instructions": instructions}],
                           "shots": 400})  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        result = (await client.get(f"/jobs/{submitted.json()['id']}")).json()
    shots = {tuple(bits) for bits in result["measurements"][0]["m"]}
    assert shots == {(0, 0), (1, 1)}
