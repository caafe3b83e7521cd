"""AsyncIQMClient.submit_json: a body that is already JSON is sent as is."""

from __future__ import annotations

import json

import httpx
import pytest

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.client._submission import run_request_json
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
    return AsyncIQMClient("http://emulator", transport=transport, poll=POLL), seen


async def test_the_body_is_sent_as_is_and_runs() -> None:
    body = run_request_json([FLIP.to_wire_json().decode()] * 2, shots=4)
    client, seen = emulator_client()
    async with client:
        job = await client.submit_json(body)
        result = await job.result(timeout=10)
    assert seen["body"] == body
    assert result.measurements == [{"m": [[1]] * 4}] * 2


async def test_the_server_judges_a_bad_body() -> None:
    body = json.dumps({"circuits": [], "shots": 4}).encode()
    client, _ = emulator_client()
    async with client:
        with pytest.raises(errors.BadRequestError, match="circuits") as info:
            await client.submit_json(body)
    assert info.value.status_code == 400
