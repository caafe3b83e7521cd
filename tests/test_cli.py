"""The `iqm-async` command through its real console-script entry point, against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from emulator_fixtures import LiveEmulator, first_reply, free_port

from iqm_async.cli import _status_line
from iqm_async.emulator import EmulatorConfig
from iqm_async.results import JobPhase, JobStatus

SCRIPT = Path(sys.executable).with_name("iqm-async")
BELL_QASM = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg c[2];
h q[0];
cx q[0],q[1];
measure q -> c;
"""


def iqm_async(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IQM_")}
    clean.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=clean, timeout=120
    )


@pytest.fixture
def bell_file(tmp_path: Path) -> Path:
    path = tmp_path / "bell.qasm"
    path.write_text(BELL_QASM)
    return path


def test_entry_point_is_installed() -> None:
    assert SCRIPT.exists(), "pip install -e . creates the iqm-async script"
    out = iqm_async("--help")
    assert out.returncode == 0
    for command in ("run", "status", "result", "abort", "arch", "serve"):
        assert command in out.stdout


def test_run_on_a_server_prints_counts_as_json(
    live_emulator: LiveEmulator, bell_file: Path
) -> None:
    out = iqm_async("--url", live_emulator.url, "run", str(bell_file), "--shots", "300", "--json")
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 300


def test_run_without_a_server_starts_a_local_emulator(bell_file: Path, tmp_path: Path) -> None:
    circuit_json = tmp_path / "bell.json"
    from pytket.circuit import Circuit

    circuit_json.write_text(json.dumps(Circuit(2, 2).H(0).CX(0, 1).measure_all().to_dict()))
    for path in (bell_file, circuit_json):
        out = iqm_async("run", str(path), "--shots", "100", "--level", "1")
        assert out.returncode == 0, out.stderr
        assert "local emulator" in out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split() == ["bitstring", "count", "prob"]
        assert {line.split()[0] for line in lines[1:]} <= {"00", "11"}


def test_status_result_and_arch(live_emulator: LiveEmulator) -> None:
    job_id = submit_bell(live_emulator.url)
    out = iqm_async("--url", live_emulator.url, "result", job_id, "--json")
    assert out.returncode == 0, out.stderr
    (counts,) = json.loads(out.stdout)
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 50
    out = iqm_async("--url", live_emulator.url, "--api", "cocos", "status", job_id)
    assert out.returncode == 0 and out.stdout.strip() == "completed (ready)"
    # The emulator speaks both APIs; asked which (the default), the CLI takes the current one.
    out = iqm_async("--url", live_emulator.url, "status", job_id)
    assert out.returncode == 0 and out.stdout.strip() == "completed"
    out = iqm_async("--url", live_emulator.url, "qcs")
    assert out.returncode == 0 and out.stdout.split()[0] == "garnet"
    out = iqm_async("--url", live_emulator.url, "arch", "--json")
    arch = json.loads(out.stdout)
    assert len(arch["qubits"]) == 20 and ["QB1", "QB2"] in arch["couplings"]
    out = iqm_async("--url", live_emulator.url, "arch")
    assert "qubits (20)" in out.stdout


def test_abort_a_pending_job(
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=5, job_seconds=60.0))
    job_id = submit_bell(live.url)
    out = iqm_async("--url", live.url, "abort", job_id)
    assert out.returncode == 0, out.stderr
    v1 = iqm_async("--url", live.url, "--api", "cocos", "status", job_id)
    assert v1.stdout.strip() == "cancelled (aborted)"
    assert iqm_async("--url", live.url, "status", job_id).stdout.strip() == "cancelled"


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (JobStatus(JobPhase.RUNNING, "pending execution"), "running (pending execution)"),
        (JobStatus(JobPhase.COMPLETED, "completed"), "completed"),
        (JobStatus(JobPhase.FAILED, "failed", message="boom"), "failed: boom"),
        (JobStatus(JobPhase.FAILED, "deletion failed", "busy"), "failed (deletion failed): busy"),
        (
            JobStatus(JobPhase.QUEUED, "waiting", queue_position=4),
            "queued (waiting), 4 jobs ahead in the queue",
        ),
        (
            JobStatus(JobPhase.RUNNING, "processing", progress=0.25),
            "running (processing), 25% done",
        ),
    ],
)
def test_status_line_is_phase_then_server_word_then_message(status: JobStatus, line: str) -> None:
    assert _status_line(status) == line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "http://127.0.0.1:1", "arch"], "Could not connect"),
        (["--url", "not-a-url", "arch"], "URL"),
        (["status", "6f1d2c8e-0a55-4c1b-9a8e-2b7f6d3e9c10"], "No server given"),
        (["--url", "http://127.0.0.1:1", "status", "not-a-uuid"], "must be a UUID"),
    ],
)
def test_errors_print_one_line_and_exit_non_zero(args: list[str], expected: str) -> None:
    out = iqm_async(*args)
    assert out.returncode == 1
    assert expected in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_token_is_one_clear_line(
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=6, require_auth=True))
    out = iqm_async("--url", live.url, "--token", "not-a-valid-token", "arch")
    assert out.returncode == 1
    assert "401" in out.stderr and "Traceback" not in out.stderr
    assert "not-a-valid-token" not in out.stderr


def test_debug_shows_the_traceback() -> None:
    out = iqm_async("--debug", "--url", "http://127.0.0.1:1", "arch")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_run_rejects_a_file_that_is_not_a_circuit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.qasm"
    bad.write_text("this is not qasm")
    out = iqm_async("--url", "http://127.0.0.1:1", "run", str(bad), "--shots", "10")
    assert out.returncode == 1 and "not a valid OpenQASM 2 file" in out.stderr


def test_serve_starts_the_emulator() -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IQM_")}
    proc = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port), "--parallel", "--seed", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    try:
        reply = first_reply(f"http://127.0.0.1:{port}/health", proc, timeout_s=30)
        assert reply.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def submit_bell(url: str) -> str:
    body = {
        "circuits": [
            {
                "name": "bell",
                "instructions": [
                    {"name": "prx", "qubits": ["QB1"], "args": {"angle_t": 0.25, "phase_t": 0.25}},
                    {"name": "prx", "qubits": ["QB2"], "args": {"angle_t": 0.25, "phase_t": 0.25}},
                    {"name": "cz", "qubits": ["QB1", "QB2"], "args": {}},
                    {
                        "name": "prx",
                        "qubits": ["QB2"],
                        "args": {"angle_t": -0.25, "phase_t": 0.25},
                    },
                    {"name": "measure", "qubits": ["QB1", "QB2"], "args": {"key": "m"}},
                ],
            }
        ],
        "shots": 50,
    }
    reply = httpx.post(f"{url}/jobs", json=body, timeout=10)
    reply.raise_for_status()
    return str(reply.json()["id"])
