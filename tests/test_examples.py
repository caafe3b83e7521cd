"""Every example runs to completion against the local emulator (no IQM_SERVER_URL set)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IQM_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=EXAMPLES.parent,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("async_sweep.py", "9 jobs"),
        ("trio_client.py", "GHZ on"),
        ("pytket_backend.py", "physical qubits: ['QB"),
        ("resume.py", "job "),
    ],
)
def test_example_runs_against_the_emulator(name: str, expected: str) -> None:
    out = run_example(name)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "local emulator" in out.stderr
    assert expected in out.stdout


def test_quickstart_sweep_follows_the_expected_curve() -> None:
    out = run_example("quickstart.py")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = re.findall(r"P\(11\)=([0-9.]+)\s+expected=([0-9.]+)", out.stdout)
    assert len(rows) == 10
    for measured, expected in rows:
        assert abs(float(measured) - float(expected)) < 0.08, (measured, expected)
    assert "HTTP requests" in out.stdout
