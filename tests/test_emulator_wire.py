"""The emulator's fast result JSON matches json.dumps exactly (no event loop)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from iqm_async.emulator.wire import bits_json, counts_of, result_json


@pytest.mark.parametrize(("shots", "width"), [(1, 1), (5, 3), (1000, 20), (0, 2), (3, 0)])
def test_bits_json_is_the_nested_list(shots: int, width: int) -> None:
    bits = np.random.default_rng(shots).integers(0, 2, size=(shots, width), dtype=np.int8)
    assert json.loads(bits_json(bits)) == bits.tolist()


def test_result_json_inserts_measurements_after_status() -> None:
    rng = np.random.default_rng(1)

    def bits(width: int) -> np.ndarray:
        return rng.integers(0, 2, (4, width), dtype=np.int8)

    batch = [{"b": bits(2), "a": bits(1)}, {"m": bits(3)}]
    body = {"status": "ready", "message": None, "metadata": {"x": [1, "é"]}, "warnings": None}
    parsed = json.loads(result_json(body, batch))
    assert list(parsed) == ["status", "measurements", "message", "metadata", "warnings"]
    assert parsed["measurements"] == [{k: v.tolist() for k, v in c.items()} for c in batch]
    assert list(parsed["measurements"][0]) == ["b", "a"]  # key order kept
    assert json.loads(result_json(body, None)) == body


def test_counts_concatenate_keys_in_the_given_order() -> None:
    results = {"x": np.array([[1], [0], [1]], dtype=np.int8),
               "y": np.array([[0, 0], [1, 1], [0, 0]], dtype=np.int8)}  # fmt: skip
    assert counts_of(["x", "y"], results) == {
        "measurement_keys": ["x", "y"],
        "counts": {"100": 2, "011": 1},
    }
    assert counts_of(["y", "x"], results)["counts"] == {"001": 2, "110": 1}


@pytest.mark.parametrize("fail_rate", [0.0, 1.0])
@pytest.mark.anyio
async def test_a_result_reply_echoes_the_request_the_model_writes(fail_rate: float) -> None:
    from iqm_async.emulator import EmulatorConfig
    from iqm_async.emulator.core import Emulator

    emulator = Emulator(
        EmulatorConfig(seed=1, parallel=True, job_seconds=0, job_fail_rate=fail_rate)
    )
    request = {
        "circuits": [
            {
                "name": n,
                "instructions": [{"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}}],
            }
            for n in ("a", 'quo"te')
        ],
        "shots": 3,
        "qubit_mapping": [{"logical_name": "QB1", "physical_name": "QB1"}],
    }
    job = emulator.submit(json.dumps(request).encode())
    status = await emulator.observe(job)
    reply = json.loads(emulator.result_json(job, status))
    assert reply["metadata"]["request"] == job.request.to_wire()
    assert set(reply["metadata"]) == {
        "request",
        "calibration_set_id",
        "cocos_version",
        "timestamps",
    }
    assert "\x00" not in json.dumps(reply)  # the placeholder never leaks
    assert reply["status"] == status.value
