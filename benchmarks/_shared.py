"""What the benchmarks share with the tests: sample circuits and the pytket-iqm decoding
harness live once, in ``tests/sample_circuits.py``, and the cached iqm-client 36 side
environment in ``tests/side_env.py``; benchmarks import them from here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sample_circuits import (
    bit_circuit,
    garnet,
    ghz,
    ideal_probabilities,
    layered_random_circuit,
    periodic_qft,
    pytket_iqm_decode,
    qft,
)
from side_env import IQM36_REQUIREMENT, SideEnvError, side_env_python

__all__ = [
    "IQM36_REQUIREMENT",
    "SideEnvError",
    "bit_circuit",
    "garnet",
    "ghz",
    "ideal_probabilities",
    "layered_random_circuit",
    "periodic_qft",
    "pytket_iqm_decode",
    "qft",
    "side_env_python",
]
