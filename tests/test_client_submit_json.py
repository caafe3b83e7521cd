"""AsyncIQMClient.submit_json: circuits that are already JSON are sent as is."""

from __future__ import annotations

import json

import httpx
import pytest

from iqm_async import errors
from iqm_async.api import CocosV1
from iqm_async.client import AsyncIQMClient
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy

pytestmark = pytest.mark.anyio

POLL = PollPolicy(initial_interval_s=0.01, max_interval_s=0.05, max_polls_per_s=1000)
FLIP = Circuit(
    name="flip",
    instructions=(
        Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0.0}),
        Instruction(name="measure", qubits=("QB1",), args={"key": "m"}),
    ),
)


def emulator_client() -> tuple[AsyncIQMClient, dict[str, bytes]]:
    app = create_app(EmulatorConfig(seed=1, parallel=True, job_seconds=0))
    seen: dict[str, bytes] = {}

    async def recording(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http" and scope["method"] == "POST":

            async def receive_and_keep() -> dict:  # type: ignore[type-arg]
                message = await receive()  # type: ignore[operator]
                seen["body"] = seen.get("body", b"") + message.get("body", b"")
                return message  # type: ignore[no-any-return]

            await app(scope, receive_and_keep, send)
        else:
            await app(scope, receive, send)

    transport = httpx.ASGITransport(app=recording)  # type: ignore[arg-type]
    return AsyncIQMClient("http://emulator", api="cocos", transport=transport, poll=POLL), seen


async def test_the_circuits_are_sent_as_is_and_run() -> None:
    # Written with spaces and newlines: re-serialising them would change the bytes.
    written = json.dumps(json.loads(FLIP.to_wire_json()), indent=1)
    circuits_json = [written] * 2
    body = CocosV1().encode_run_json(
        circuits_json, shots=4, qubit_mapping=None, calibration_set_id=None
    )
    client, seen = emulator_client()
    async with client:
        job = await client.submit_json(circuits_json, shots=4)
        result = await job.result(timeout=10)
    assert seen["body"].count(written.encode()) == 2  # the circuits' own bytes
    assert json.loads(seen["body"]) == json.loads(body)
    assert result.measurements == [{"m": [[1]] * 4}] * 2


async def test_the_other_fields_are_checked_and_sent() -> None:
    client, seen = emulator_client()
    async with client:
        with pytest.raises(errors.CircuitValidationError, match="at least one"):
            await client.submit_json([], shots=4)
        with pytest.raises(errors.ConfigurationError, match="shots"):
            await client.submit_json([FLIP.to_wire_json().decode()], shots=0)
        assert client.request_count == 0
        job = await client.submit_json(
            [FLIP.to_wire_json().decode()], shots=3, qubit_mapping={"QB1": "QB2"}
        )
        await job.result(timeout=10)
    body = json.loads(seen["body"])
    assert body["shots"] == 3
    assert body["qubit_mapping"] == [{"logical_name": "QB1", "physical_name": "QB2"}]


async def test_the_server_judges_a_bad_circuit() -> None:
    client, _ = emulator_client()
    async with client:
        with pytest.raises(errors.BadRequestError, match=r"circuits\.0\.name") as info:
            await client.submit_json(['{"nope": 1}'], shots=4)
    assert info.value.status_code == 400
