"""Job.measurement_arrays and Job.metadata: results without a Python list per shot.

The poller reads a result's measurements straight into arrays when the reply has the plain
form; ``result()`` builds the lists only when asked. Replies in another form are parsed the
ordinary way and converted (respx serves both).
"""

from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

import httpx
import numpy as np
import pytest
import respx
from respx_fixtures import FAST_POLL, MOCK_API_URL

from iqm_async import errors
from iqm_async.client import AsyncIQMClient
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.jobs import ServerWarning
from iqm_async.models import Circuit, Instruction

pytestmark = pytest.mark.anyio

URL = MOCK_API_URL
X_THEN_MEASURE = Circuit(
    name="x",
    instructions=(
        Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.5, "phase_t": 0.0}),
        Instruction(name="measure", qubits=("QB1", "QB2"), args={"key": "m"}),
    ),
)
METADATA = {"request": {"shots": 2, "circuits": []}, "calibration_set_id": str(uuid.uuid4())}


async def test_arrays_from_the_emulator_match_the_lists() -> None:
    app = create_app(EmulatorConfig(seed=2, parallel=True, job_seconds=0))
    transport = httpx.ASGITransport(app=app)
    async with AsyncIQMClient(
        "http://emulator", api="cocos", transport=transport, poll=FAST_POLL
    ) as client:
        job = await client.submit([X_THEN_MEASURE] * 3, shots=7)
        arrays = await job.measurement_arrays(timeout=10)
        held = await job.result()  # the kept JobResult: result() builds no lists either
        assert held.measurement_arrays is arrays
        assert held._lists is None  # no lists yet
        assert len(arrays) == 3
        assert all(a["m"].dtype == np.uint8 and a["m"].shape == (7, 2) for a in arrays)
        assert all((a["m"] == [1, 0]).all() for a in arrays)  # QB1 flipped, QB2 not
        metadata = await job.metadata()
        assert metadata.request is not None and metadata.request.shots == 7
        assert held._lists is None  # metadata() built none either
        result = await job.result()
        assert result.measurements == [{"m": [[1, 0]] * 7}] * 3
        assert result.measurements is result.measurements  # built once
        assert await job.measurement_arrays() is arrays  # kept, not rebuilt


def serve_result(mock: respx.MockRouter, result: dict[str, Any]) -> None:
    job_id = str(uuid.uuid4())
    mock.post("/jobs").respond(200, json={"id": job_id})
    mock.get(f"/jobs/{job_id}/status").respond(200, json={"status": result["status"]})
    # An escaped character anywhere sends the reply down the ordinary parser.
    body = json.dumps(result).replace("/", "\\/").encode()
    mock.get(f"/jobs/{job_id}").respond(200, content=body)


async def test_a_reply_parsed_the_ordinary_way_gives_the_same_arrays(
    mock_api: respx.MockRouter,
) -> None:
    measurements = [{"m": [[1, 0], [0, 1]]}, {"m": [[1, 1], [0, 0]]}]
    serve_result(mock_api, {"status": "ready", "measurements": measurements, "metadata": METADATA})
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=2)
        arrays = await job.measurement_arrays(timeout=5)
        assert [{k: a.tolist() for k, a in c.items()} for c in arrays] == measurements
        assert (await job.result()).measurements == measurements
        assert str((await job.metadata()).calibration_set_id) == METADATA["calibration_set_id"]


@pytest.mark.parametrize(
    ("shots", "says"),
    [
        ([[0], [1, 1]], "measurement 'key_a' of circuit 0"),
        ([[2], [0]], "measurements.0.key_a.0.0: Input should be less than or equal to 1"),
        ([0, 1], "measurements.0.key_a.0: Input should be a valid array"),  # the model's check
    ],
    ids=["ragged shots", "a 2", "bare numbers"],
)
async def test_bits_that_are_not_bits_are_an_invalid_response(
    mock_api: respx.MockRouter, shots: list[Any], says: str
) -> None:
    serve_result(mock_api, {"status": "ready", "measurements": [{"key_a": shots}], "metadata": {}})
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=2)
        with pytest.raises(errors.InvalidResponseError, match=says):
            await job.measurement_arrays(timeout=5)


async def test_failures_and_warnings_reach_the_arrays_caller(mock_api: respx.MockRouter) -> None:
    serve_result(mock_api, {"status": "failed", "message": "QB9 is broken", "metadata": {}})
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=2)
        with pytest.raises(errors.JobFailedError, match="QB9 is broken"):
            await job.measurement_arrays(timeout=5)
        with pytest.raises(errors.JobFailedError, match="QB9 is broken"):
            await job.metadata()
    mock_api.reset()
    warned = {
        "status": "ready",
        "measurements": [{"m": [[0, 0], [0, 0]]}],
        "metadata": METADATA,
        "warnings": ["calibration is old"],
    }
    serve_result(mock_api, warned)
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=2)
        with pytest.warns(ServerWarning, match="calibration is old"):
            await job.measurement_arrays(timeout=5)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            await job.result()  # warned once per job


async def test_metadata_is_parsed_once_and_only_when_asked(mock_api: respx.MockRouter) -> None:
    job_id = str(uuid.uuid4())
    mock_api.post("/jobs").respond(200, json={"id": job_id})
    mock_api.get(f"/jobs/{job_id}/status").respond(200, json={"status": "ready"})
    result = {"status": "ready", "measurements": [{"m": [[1, 0]]}], "metadata": METADATA}
    mock_api.get(f"/jobs/{job_id}").respond(200, content=json.dumps(result).encode())
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=1)
        await job.measurement_arrays(timeout=5)
        held = await job.result()
        assert held._metadata is None and held._load_metadata is not None  # fetched, not parsed
        first = await job.metadata()
        assert held._load_metadata is None and await job.metadata() is first
        assert str(first.calibration_set_id) == METADATA["calibration_set_id"]
        assert (await job.result()).metadata == first


async def test_malformed_metadata_is_an_invalid_response_when_read(
    mock_api: respx.MockRouter,
) -> None:
    job_id = str(uuid.uuid4())
    mock_api.post("/jobs").respond(200, json={"id": job_id})
    mock_api.get(f"/jobs/{job_id}/status").respond(200, json={"status": "ready"})
    bad = {"calibration_set_id": "not-a-uuid"}
    result = {"status": "ready", "measurements": [{"m": [[1, 0]]}], "metadata": bad}
    mock_api.get(f"/jobs/{job_id}").respond(200, content=json.dumps(result).encode())
    async with AsyncIQMClient(URL, api="cocos", poll=FAST_POLL) as client:
        job = await client.submit(X_THEN_MEASURE, shots=1)
        arrays = await job.measurement_arrays(timeout=5)  # the bits are fine
        assert arrays[0]["m"].tolist() == [[1, 0]]
        with pytest.raises(errors.InvalidResponseError, match="calibration_set_id"):
            await job.metadata()
        result = await job.result()  # the bits are still there; the metadata is read lazily
        assert result.measurements == [{"m": [[1, 0]]}]
        with pytest.raises(errors.InvalidResponseError, match="calibration_set_id"):
            result.metadata  # noqa: B018 - reading it is the test
