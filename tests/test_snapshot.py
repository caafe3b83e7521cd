"""`iqm-async snapshot`: a server's architecture and metrics in one file, which another
emulator serves offline as the same device (round trip on both APIs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from emulator_fixtures import LiveEmulator

from iqm_async import AsyncIQMClient
from iqm_async.cli import main
from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.emulator.metrics import SNAPSHOT_FORMAT
from iqm_async.errors import ConfigurationError
from iqm_async.quality import QualityMetrics

Factory = Callable[[EmulatorConfig], LiveEmulator]


def served(config: EmulatorConfig, api: str, qc: str | None) -> tuple[bytes, QualityMetrics]:
    """The DQA reply and the metrics a client reads from an emulator with ``config``."""
    app = create_app(config)

    async def read() -> tuple[bytes, QualityMetrics]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncIQMClient(
            "http://emulator", api=api, quantum_computer=qc, transport=transport
        ) as client:
            dqa = await client.dynamic_architecture()
            return dqa.model_dump_json().encode(), await client.quality_metrics()

    return anyio.run(read)


@pytest.mark.parametrize("arch", ["garnet", "star-resonator"])
def test_a_snapshot_serves_the_same_device(
    arch: str, live_emulator_factory: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = EmulatorConfig(seed=7, arch=arch, metrics="generated")
    source = live_emulator_factory(original)
    path = tmp_path / "device.json"
    main(["snapshot", "--url", source.url, "-o", str(path)])
    assert f"wrote {path}: {arch}" in capsys.readouterr().out

    body = json.loads(path.read_text())
    assert body["format"] == SNAPSHOT_FORMAT and body["quantum_computer"] == arch
    assert body["source"].rstrip("/") == source.url
    replica = EmulatorConfig(arch=str(path), seed=99)  # another seed: nothing is generated
    for api, qc in (("cocos", None), ("iqm-server", arch)):
        assert served(replica, api, qc) == served(original, api, qc)
    device = create_app(replica).state.emulator.device
    assert device.alias == arch
    assert device.metrics == source.emulator.device.metrics


def test_a_snapshot_of_a_server_without_metrics(
    live_emulator_factory: Factory, tmp_path: Path
) -> None:
    source = live_emulator_factory(EmulatorConfig(seed=7, arch="star"))
    path = tmp_path / "star.json"
    main(
        [
            "--api",
            "iqm-server",
            "--url",
            source.url,
            "snapshot",
            "--quantum-computer",
            "star",
            "-o",
            str(path),
        ]
    )
    body = json.loads(path.read_text())
    assert body["metrics"] is None
    assert create_app(EmulatorConfig(arch=str(path))).state.emulator.device.metrics is None
    del source


def test_the_metrics_of_a_snapshot_alone(live_emulator_factory: Factory, tmp_path: Path) -> None:
    source = live_emulator_factory(EmulatorConfig(seed=7, metrics="generated"))
    path = tmp_path / "garnet.json"
    main(["--url", source.url, "snapshot", "-o", str(path)])
    device = create_app(EmulatorConfig(metrics=str(path), noise=True)).state.emulator.device
    assert device.metrics == source.emulator.device.metrics
    assert device.noise is not None


def test_a_snapshot_without_an_architecture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"format": SNAPSHOT_FORMAT, "metrics": None}))
    with pytest.raises(ConfigurationError, match="snapshot has no 'dynamic_quantum_architecture'"):
        create_app(EmulatorConfig(arch=str(path)))
