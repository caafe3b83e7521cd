"""The emulator's quality metrics: generated from a seed with real chips' patterns, loaded
from files, and served on both APIs' routes (404 where a server would have none)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import httpx
import pytest

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.architectures import load_architecture
from iqm_async.emulator.metrics import generate_metrics, load_metrics, metrics_from_reply
from iqm_async.errors import ConfigurationError
from iqm_async.quality import metric_observations, metrics_from_observations

pytestmark = pytest.mark.anyio

GARNET = load_architecture("garnet")


def _client(config: EmulatorConfig) -> httpx.AsyncClient:
    app = create_app(config)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator")


# --- generation ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_generated_metrics_follow_real_chips_patterns(seed: int) -> None:
    metrics = generate_metrics(GARNET.dqa, seed=seed, name="garnet")
    assert set(metrics.qubits) == set(GARNET.dqa.qubits)
    for quality in metrics.qubits.values():
        assert quality.t1_s and quality.t2_s and quality.t2_echo_s
        assert quality.t2_s <= quality.t2_echo_s <= 2 * quality.t1_s
        assert quality.prx_fidelity is not None and 0.99 < quality.prx_fidelity < 1
    # Like Garnet: about one coupler in ten publishes no CZ figure (absent, not perfect).
    assert len(metrics.cz_fidelity) == len(GARNET.dqa.loci("cz")) - 3
    assert all(0.85 < f < 1 for f in metrics.cz_fidelity.values())
    # The weak qubit (worst prx) drags its couplers down: each is worse than the median.
    weak = min(metrics.qubits, key=lambda q: metrics.qubits[q].prx_fidelity or 1.0)
    median = statistics.median(metrics.cz_fidelity.values())
    weak_couplers = [f for pair, f in metrics.cz_fidelity.items() if weak in pair]
    assert weak_couplers
    assert all(f < median for f in weak_couplers)
    weak_t1 = metrics.qubits[weak].t1_s
    assert weak_t1 is not None
    assert weak_t1 < statistics.median(q.t1_s or 0 for q in metrics.qubits.values())


def test_generated_readout_errors_are_asymmetric_like_real_chips() -> None:
    pairs = [
        (q.readout_error_0_to_1, q.readout_error_1_to_0)
        for seed in range(10)
        for q in generate_metrics(GARNET.dqa, seed=seed, name="x").qubits.values()
    ]
    assert all(e01 is not None and e10 is not None for e01, e10 in pairs)
    larger_e10 = sum(1 for e01, e10 in pairs if e10 >= e01)  # type: ignore[operator]
    assert 0.65 < larger_e10 / len(pairs) < 0.95  # mostly, not always (14 of 20 on Garnet)


def test_generation_is_deterministic_and_chips_differ() -> None:
    first = generate_metrics(GARNET.dqa, seed=5, name="garnet")
    assert generate_metrics(GARNET.dqa, seed=5, name="garnet") == first
    assert generate_metrics(GARNET.dqa, seed=6, name="garnet") != first
    assert generate_metrics(GARNET.dqa, seed=5, name="other") != first


def test_an_architecture_files_readout_errors_are_kept() -> None:
    metrics = generate_metrics(
        GARNET.dqa, seed=1, name="garnet", readout_errors=GARNET.readout_errors
    )
    quality = metrics.qubit("QB7")
    assert (quality.readout_error_0_to_1, quality.readout_error_1_to_0) == (0.012, 0.0429)


def test_move_figures_for_a_resonator_chip() -> None:
    arch = load_architecture("star-resonator")
    metrics = generate_metrics(arch.dqa, seed=1, name="star-resonator")
    assert set(metrics.move_fidelity) == {tuple(locus) for locus in arch.dqa.loci("move")}
    assert metrics.cz("COMP_R", "QB1") is not None


def test_written_observations_read_back_the_same() -> None:
    metrics = generate_metrics(GARNET.dqa, seed=2, name="garnet")
    pairs = metric_observations(metrics, implementations={"prx": "drag_gaussian"})
    assert ("characterization.model.QB1.t1_time", metrics.qubit("QB1").t1_s) in pairs
    again = metrics_from_observations(pairs, calibration_set_id=metrics.calibration_set_id)
    assert again == metrics


# --- serving ------------------------------------------------------------------------------


async def test_both_routes_serve_the_same_figures(anyio_backend: str) -> None:
    config = EmulatorConfig(seed=3, metrics="generated")
    async with _client(config) as client:
        era_f = await client.get("/api/v1/calibration-sets/garnet/default/metrics")
        calset = GARNET.calibration_set_id
        by_id = await client.get(f"/api/v1/calibration-sets/garnet/{calset}/metrics")
        v1 = await client.get("/calibration/metrics/default")
        v1_by_id = await client.get(f"/calibration/metrics/{calset}")
    assert era_f.status_code == by_id.status_code == v1.status_code == v1_by_id.status_code == 200
    body = era_f.json()
    assert body["observation_set_type"] == "quality-metric-set"
    assert body["describes_id"] == calset
    first = body["observations"][0]
    assert isinstance(first["value"], float)  # numbers, as servers send them
    assert {"observation_id", "dut_field", "unit", "uncertainty", "invalid"} <= set(first)
    v1_body = v1.json()
    assert v1_body["calibration_set_id"] == calset
    assert all(isinstance(entry["value"], str) for entry in v1_body["metrics"].values())
    expected = generate_metrics(
        GARNET.dqa, seed=3, name="garnet", readout_errors=GARNET.readout_errors
    )
    assert metrics_from_reply(body, GARNET.dqa) == expected
    assert metrics_from_reply(v1_body, GARNET.dqa) == expected


async def test_every_quantum_computer_has_its_own_metrics(anyio_backend: str) -> None:
    config = EmulatorConfig(seed=3, metrics="generated", quantum_computers=("garnet", "star"))
    async with _client(config) as client:
        garnet = await client.get("/api/v1/calibration-sets/garnet/default/metrics")
        star = await client.get("/api/v1/calibration-sets/star/default/metrics")
    star_arch = load_architecture("star")
    assert garnet.json()["describes_id"] == GARNET.calibration_set_id
    assert star.json()["describes_id"] == star_arch.calibration_set_id
    assert set(metrics_from_reply(star.json(), star_arch.dqa).qubits) == set(star_arch.dqa.qubits)
    assert set(metrics_from_reply(garnet.json(), GARNET.dqa).qubits) == set(GARNET.dqa.qubits)


async def test_no_metrics_and_unknown_sets_are_404(anyio_backend: str) -> None:
    async with _client(EmulatorConfig(seed=3)) as client:
        none_f = await client.get("/api/v1/calibration-sets/garnet/default/metrics")
        none_v1 = await client.get("/calibration/metrics/default")
    assert none_f.status_code == none_v1.status_code == 404
    assert none_f.json()["error_code"] == "quality_metrics_not_found"
    assert "No quality metrics" in none_v1.json()["detail"]
    unknown = "00000000-0000-4000-8000-000000000000"
    async with _client(EmulatorConfig(seed=3, metrics="generated")) as client:
        wrong_f = await client.get(f"/api/v1/calibration-sets/garnet/{unknown}/metrics")
        wrong_v1 = await client.get(f"/calibration/metrics/{unknown}")
        wrong_qc = await client.get("/api/v1/calibration-sets/nope/default/metrics")
    assert wrong_f.status_code == wrong_v1.status_code == wrong_qc.status_code == 404
    assert unknown in wrong_f.json()["message"]
    assert unknown in wrong_v1.json()["detail"]
    assert "nope" in wrong_qc.json()["message"]


async def test_noise_without_metrics_serves_the_generated_ones(anyio_backend: str) -> None:
    async with _client(EmulatorConfig(seed=3, noise=True)) as client:
        reply = await client.get("/calibration/metrics/latest")
    assert reply.status_code == 200


async def test_metrics_from_a_file(tmp_path: Path, anyio_backend: str) -> None:
    source = create_app(EmulatorConfig(seed=9, metrics="generated"))
    served = source.state.emulator.device.metrics_reply
    body = json.loads(served)
    body["observations"].append(  # an invalid entry is absent, not read
        {
            "observation_id": 999,
            "dut_field": "metrics.rb.prx.drag_gaussian.QB1.fidelity:par=d1",
            "value": 0.5,
            "unit": "",
            "invalid": True,
        }
    )
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(body))
    async with _client(EmulatorConfig(seed=1, metrics=str(path))) as client:
        reply = await client.get("/api/v1/calibration-sets/garnet/default/metrics")
    assert metrics_from_reply(reply.json(), GARNET.dqa) == source.state.emulator.device.metrics


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "Expecting value"),
        ("[1]", "no JSON object"),
        ('{"rows": []}', "no 'observations' list"),
    ],
)
def test_a_bad_metrics_file_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match="Cannot load emulator metrics") as info:
        load_metrics(str(path), GARNET.dqa)
    assert problem in str(info.value)
    with pytest.raises(ConfigurationError, match="Cannot load emulator metrics"):
        create_app(EmulatorConfig(metrics=str(tmp_path / "missing.json")))


def test_config_refuses_idle_noise_without_noise_and_an_empty_metrics() -> None:
    with pytest.raises(ConfigurationError, match=r"idle_noise .* set noise=True"):
        EmulatorConfig(idle_noise=True)
    with pytest.raises(ConfigurationError, match="metrics must be None, 'generated' or a file"):
        EmulatorConfig(metrics=" ")


def test_emulator_cli_flags_for_metrics_and_noise() -> None:
    from iqm_async.emulator.__main__ import config_from_args

    config, _, _ = config_from_args(["--metrics", "generated", "--noise", "--idle-noise"])
    assert (config.metrics, config.noise, config.idle_noise) == ("generated", True, True)
    plain, _, _ = config_from_args([])
    assert (plain.metrics, plain.noise, plain.idle_noise) == (None, False, False)


def test_readout_noise_uses_the_served_metrics() -> None:
    app = create_app(EmulatorConfig(seed=3, metrics="generated", readout_noise=True))
    device = app.state.emulator.device
    quality = device.metrics.qubit("QB5")
    assert device.readout_errors["QB5"] == (
        quality.readout_error_0_to_1,
        quality.readout_error_1_to_0,
    )
    assert device.noise is None  # readout flips only: the state-vector path
