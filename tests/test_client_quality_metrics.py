"""``AsyncIQMClient.quality_metrics`` on both APIs: read from the emulator and from exact
replies (respx), cached per calibration set, bad entries absent (never perfect), a server
without metrics read as an empty set; and the emulator's noise measured through the client
matches the metrics it serves."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
import respx
from respx_fixtures import FAST_RETRY, MOCK_API_URL

from iqm_async import AsyncIQMClient
from iqm_async.api import CocosV1, IQMServerV1
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.architectures import load_architecture
from iqm_async.errors import InvalidResponseError, NotFoundError
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import PollPolicy
from iqm_async.quality import QualityMetrics

pytestmark = pytest.mark.anyio

FAST = PollPolicy(initial_interval_s=0.001, max_interval_s=0.01, head_interval_s=0.01)
GARNET = load_architecture("garnet")
CALSET = GARNET.calibration_set_id
APIS = [("cocos", None), ("iqm-server", "garnet")]


def emulator_client(config: EmulatorConfig, api: str, qc: str | None) -> AsyncIQMClient:
    app = create_app(config)
    return AsyncIQMClient(
        "http://emulator",
        api=api,
        quantum_computer=qc,
        transport=httpx.ASGITransport(app=app),
        poll=FAST,
    )


@pytest.mark.parametrize(("api", "qc"), APIS)
async def test_metrics_are_read_and_cached_per_calibration_set(
    api: str, qc: str | None, anyio_backend: str
) -> None:
    config = EmulatorConfig(seed=4, metrics="generated", parallel=True, job_seconds=0)
    async with emulator_client(config, api, qc) as client:
        metrics = await client.quality_metrics()
        assert await client.quality_metrics(CALSET) is metrics  # the same set, by its id
        assert client.requests_by_kind["metrics"] == 1
        await client.quality_metrics(refresh=True)
        assert client.requests_by_kind["metrics"] == 2
    expected = create_app(config).state.emulator.device.metrics
    assert metrics == expected
    assert str(metrics.calibration_set_id) == CALSET
    assert len(metrics.qubits) == 20 and len(metrics.cz_fidelity) == 27


@pytest.mark.parametrize(("api", "qc"), APIS)
async def test_a_server_without_metrics_gives_an_empty_set(
    api: str, qc: str | None, anyio_backend: str
) -> None:
    async with emulator_client(EmulatorConfig(seed=4), api, qc) as client:
        metrics = await client.quality_metrics()
        assert await client.quality_metrics() is metrics  # the 404 is not asked again
        assert client.requests_by_kind["metrics"] == 1
    assert metrics.is_empty and str(metrics.calibration_set_id) == CALSET


@pytest.mark.parametrize(("api", "qc"), APIS)
async def test_an_unknown_calibration_set_is_not_found(
    api: str, qc: str | None, anyio_backend: str
) -> None:
    config = EmulatorConfig(seed=4, metrics="generated")
    async with emulator_client(config, api, qc) as client:
        with pytest.raises(NotFoundError):
            await client.quality_metrics("00000000-0000-4000-8000-000000000000")


# --- exact replies ------------------------------------------------------------------------


def observation(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "observation_id": 1,
        "dut_field": name,
        "value": value,
        "unit": "",
        "uncertainty": None,
        "invalid": False,
        "created_timestamp": "2026-01-31T15:07:13.183821",
        "modified_timestamp": "2026-01-31T15:07:13.183821",
        **extra,
    }


def metric_set(observations: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "observation_set_type": "quality-metric-set",
        "observation_set_id": "179981ca-0e3f-479e-a934-f4be8ae355e2",
        "describes_id": CALSET,
        "dut_label": "M194",
        "created_timestamp": "2026-01-31T15:07:13.946293Z",
        "end_timestamp": None,
        "calibration_set": None,
        "observation_ids": None,
        "observations": observations,
        **extra,
    }


PRX = "metrics.rb.prx.{impl}.QB1.fidelity:par=d2"
BAD_ENTRIES: list[Any] = [
    observation("metrics.rb.prx.drag_gaussian.QB2.fidelity", 0.2, invalid=True),  # invalid
    observation("metrics.rb.prx.drag_gaussian.QB3.fidelity", "0.9995"),  # a string
    observation("metrics.rb.prx.drag_gaussian.QB4.fidelity", 1.5),  # out of range
    observation("metrics.rb.prx.drag_gaussian.QB5.fidelity", True),  # not a number
    observation("characterization.model.QB1.t1_time", -4e-5, unit="s"),  # negative time
    observation("metrics.irb.cz.tgss.QB1__QB2.fidelity", None),  # no value
    {"value": 0.99},  # no name
    "metrics.rb.prx.drag_gaussian.QB6.fidelity",  # not an object
    observation("metrics.ghz_state.QB1__QB2.fidelity", 0.9),  # a name this SDK does not read
]


@pytest.fixture
def server_mock() -> Any:
    with respx.mock(base_url=MOCK_API_URL, assert_all_called=False) as router:
        router.get("/api/v1/calibration-sets/garnet/default/dynamic-quantum-architecture").mock(
            return_value=httpx.Response(200, content=GARNET.dqa_json)
        )
        yield router


def server_client() -> AsyncIQMClient:
    return AsyncIQMClient(MOCK_API_URL, api=IQMServerV1("garnet"), retry=FAST_RETRY)


async def test_bad_entries_are_absent_never_perfect(server_mock: Any, anyio_backend: str) -> None:
    good = [
        observation(PRX.format(impl="drag_gaussian"), 0.9991),
        observation(PRX.format(impl="other_impl"), 0.9999),  # not the DQA's default: ignored
        observation("metrics.ssro.measure.constant.QB1.error_0_to_1", 0.012),
        observation("characterization.model.QB2.t2_time", 1.1e-5, unit="s"),
    ]
    server_mock.get(f"/api/v1/calibration-sets/garnet/{CALSET}/metrics").mock(
        return_value=httpx.Response(200, json=metric_set(good + BAD_ENTRIES))
    )
    async with server_client() as client:
        metrics = await client.quality_metrics()
    assert metrics.qubit("QB1").prx_fidelity == 0.9991
    assert metrics.qubit("QB1").readout_error_0_to_1 == 0.012
    assert metrics.qubit("QB1").t1_s is None
    assert metrics.qubit("QB2").t2_s == 1.1e-5
    for qubit in ("QB2", "QB3", "QB4", "QB5", "QB6"):
        assert metrics.qubit(qubit).prx_fidelity is None
    assert metrics.cz("QB1", "QB2") is None and not metrics.cz_fidelity


async def test_a_set_marked_invalid_has_no_figures(server_mock: Any, anyio_backend: str) -> None:
    body = metric_set([observation(PRX.format(impl="drag_gaussian"), 0.9991)], invalid=True)
    server_mock.get(f"/api/v1/calibration-sets/garnet/{CALSET}/metrics").mock(
        return_value=httpx.Response(200, json=body)
    )
    async with server_client() as client:
        metrics = await client.quality_metrics()
    assert metrics.is_empty and str(metrics.calibration_set_id) == CALSET


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"observation_set_type": "quality-metric-set"}, "observations: Field required"),
        ({"observations": {"a": 1}}, "observations: Input should be a valid array"),
        ("<html>login</html>", "is not JSON"),
    ],
)
async def test_a_reply_that_is_no_metric_set_is_refused(
    server_mock: Any, body: Any, problem: str, anyio_backend: str
) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    server_mock.get(f"/api/v1/calibration-sets/garnet/{CALSET}/metrics").mock(
        return_value=httpx.Response(200, content=content)
    )
    async with server_client() as client:
        with pytest.raises(InvalidResponseError, match="quality metrics") as info:
            await client.quality_metrics()
    assert problem in str(info.value)


@pytest.fixture
def v1_mock() -> Any:
    with respx.mock(base_url=MOCK_API_URL, assert_all_called=False) as router:
        router.get("/api/v1/calibration/default/gates").mock(
            return_value=httpx.Response(200, content=GARNET.dqa_json)
        )
        yield router


def v1_entry(value: Any) -> dict[str, Any]:
    return {"value": value, "unit": "", "uncertainty": "None", "timestamp": "2024-01-01"}


async def test_v1_values_are_strings_and_bad_ones_are_absent(
    v1_mock: Any, anyio_backend: str
) -> None:
    body = {
        "calibration_set_id": CALSET,
        "quality_metric_set_is_invalid": False,
        "metrics": {
            "metrics.rb.prx.drag_gaussian.QB1.fidelity": v1_entry("0.9991"),
            "metrics.irb.cz.tgss.QB1__QB2.fidelity": v1_entry("0.995"),
            "metrics.ssro.measure.constant.QB1.error_1_to_0": v1_entry(0.02),
            "metrics.rb.prx.drag_gaussian.QB2.fidelity": v1_entry("None"),
            "metrics.rb.prx.drag_gaussian.QB3.fidelity": v1_entry("nan"),
            "metrics.rb.prx.drag_gaussian.QB4.fidelity": "0.9",
            "characterization.model.QB1.t1_time": v1_entry("4.1e-05"),
        },
    }
    v1_mock.get(f"/calibration/metrics/{CALSET}").mock(return_value=httpx.Response(200, json=body))
    async with AsyncIQMClient(MOCK_API_URL, api="cocos", retry=FAST_RETRY) as client:
        metrics = await client.quality_metrics()
        assert client.requests_by_kind["metrics"] == 1
    assert metrics.qubit("QB1").prx_fidelity == 0.9991
    assert metrics.qubit("QB1").readout_error_1_to_0 == 0.02
    assert metrics.qubit("QB1").t1_s == 4.1e-05
    assert metrics.cz("QB2", "QB1") == 0.995
    assert all(metrics.qubit(q).prx_fidelity is None for q in ("QB2", "QB3", "QB4"))


async def test_v1_invalid_set_and_missing_metrics(v1_mock: Any, anyio_backend: str) -> None:
    route = v1_mock.get(f"/calibration/metrics/{CALSET}")
    route.mock(
        return_value=httpx.Response(
            200,
            json={
                "calibration_set_id": CALSET,
                "quality_metric_set_is_invalid": True,
                "metrics": {"metrics.rb.prx.drag_gaussian.QB1.fidelity": v1_entry("0.99")},
            },
        )
    )
    async with AsyncIQMClient(MOCK_API_URL, api="cocos", retry=FAST_RETRY) as client:
        assert (await client.quality_metrics()).is_empty
        route.mock(return_value=httpx.Response(200, json={"calibration_set_id": CALSET}))
        with pytest.raises(InvalidResponseError, match=r"quality metrics .*metrics: Field"):
            await client.quality_metrics(refresh=True)


# --- the noise, measured through the client -----------------------------------------------


def within_4_sigma(measured: float, expected: float, shots: int) -> bool:
    return abs(measured - expected) <= 4 * math.sqrt(expected * (1 - expected) / shots)


@pytest.mark.parametrize(("api", "qc"), APIS)
async def test_measured_readout_errors_match_the_served_metrics(
    api: str, qc: str | None, anyio_backend: str
) -> None:
    shots = 20_000
    qubits = [f"QB{i}" for i in range(1, 11)]
    zeros = Circuit(
        name="zeros", instructions=(Instruction(name="measure", qubits=qubits, args={"key": "m"}),)
    )
    config = EmulatorConfig(seed=21, noise=True, parallel=True, job_seconds=0)
    async with emulator_client(config, api, qc) as client:
        metrics: QualityMetrics = await client.quality_metrics()
        result = await (await client.submit(zeros, shots=shots)).result()
    bits = result.measurement_arrays[0]["m"]
    for column, qubit in enumerate(qubits):
        e01 = metrics.qubit(qubit).readout_error_0_to_1
        assert e01 is not None
        assert within_4_sigma(float(bits[:, column].mean()), e01, shots), qubit


class _NoMetricsAPI(CocosV1):
    """A V1 variant whose servers have no metrics route (as Resonance's CoCoS had none)."""

    def quality_metrics_route(self, calibration_set: str) -> None:
        return None


async def test_an_api_without_a_metrics_route_gives_an_empty_set(anyio_backend: str) -> None:
    app = create_app(EmulatorConfig(seed=4, metrics="generated"))
    transport = httpx.ASGITransport(app=app)
    async with AsyncIQMClient(
        "http://emulator", api=_NoMetricsAPI(), transport=transport
    ) as client:
        metrics = await client.quality_metrics()
        assert "metrics" not in client.requests_by_kind
    assert metrics.is_empty and str(metrics.calibration_set_id) == CALSET
