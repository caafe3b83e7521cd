"""Starting the emulator: running_emulator in a thread, the CLI, architecture loading."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from emulator_fixtures import LiveEmulator, first_reply, free_port

from iqm_async.emulator import EmulatorConfig, running_emulator, running_emulator_with_state
from iqm_async.emulator.__main__ import config_from_args
from iqm_async.emulator.architectures import load_architecture
from iqm_async.errors import ConfigurationError


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_running_emulator_serves_and_stops() -> None:
    with running_emulator(EmulatorConfig(seed=1)) as url:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
    assert not _port_open(port)


def test_live_emulator_fixture_reports_connections(live_emulator: LiveEmulator) -> None:
    with httpx.Client(base_url=live_emulator.url) as client:
        client.get("/health")
        assert live_emulator.emulator.stats()["open_connections"] >= 1
    deadline = time.monotonic() + 5
    while live_emulator.emulator.stats()["open_connections"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live_emulator.emulator.stats()["open_connections"] == 0


def test_two_emulators_side_by_side() -> None:
    with (
        running_emulator_with_state(EmulatorConfig(arch="star")) as (a, em_a),
        running_emulator_with_state(EmulatorConfig()) as (b, em_b),
    ):
        assert a != b
        assert len(httpx.get(f"{a}/api/v1/calibration/default/gates").json()["qubits"]) == 5
        assert len(httpx.get(f"{b}/api/v1/calibration/default/gates").json()["qubits"]) == 20
    assert em_a.architecture.name == "star" and em_b.architecture.name == "garnet"


def test_cli_flags_map_to_config() -> None:
    config, host, port = config_from_args(
        ["--port", "9001", "--seed", "3", "--arch", "star", "--parallel", "--job-seconds", "0.5",
         "--require-auth", "--token-seconds", "30", "--fail-rate", "0.1", "--throttle-rate",
         "0.2", "--drop-rate", "0.05", "--latency-ms", "7", "--job-fail-rate", "0.3"]
    )  # fmt: skip
    assert (host, port) == ("127.0.0.1", 9001)
    assert config == EmulatorConfig(
        seed=3, arch="star", parallel=True, job_seconds=0.5, require_auth=True,
        token_seconds=30.0, fail_rate=0.1, throttle_rate=0.2, drop_rate=0.05, latency_ms=7.0,
        job_fail_rate=0.3,
    )  # fmt: skip


def test_python_dash_m_starts_a_server() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [sys.executable, "-m", "iqm_async.emulator", "--port", str(port), "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        reply = first_reply(f"http://127.0.0.1:{port}/about", process, timeout_s=20)
        assert reply.json()["architecture"] == "garnet"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


def test_unknown_architecture_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Unknown emulator architecture 'marsnet'"):
        load_architecture("marsnet")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"qubits": ["QB1"]}))
    with pytest.raises(ConfigurationError, match="Cannot load emulator architecture"):
        load_architecture(str(bad))


def test_builtin_architectures() -> None:
    garnet = load_architecture("garnet")
    assert garnet.dqa.qubits == [f"QB{i}" for i in range(1, 21)]
    assert len(garnet.dqa.couplings) == 30
    degrees = {q: sum(q in pair for pair in garnet.dqa.couplings) for q in garnet.dqa.qubits}
    assert max(degrees.values()) == 4 and min(degrees.values()) == 2  # a square lattice patch
    assert set(garnet.readout_errors) == set(garnet.dqa.qubits)
    resonator = load_architecture("star-resonator")
    assert resonator.dqa.computational_resonators == ["COMP_R"]
    assert {tuple(locus) for locus in resonator.dqa.loci("move")} == {
        (f"QB{i}", "COMP_R") for i in range(1, 6)
    }
