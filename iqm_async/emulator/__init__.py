"""A local IQM server: the V1 protocol, a state-vector QPU, and misbehaviour on request.

Three ways to start it::

    python -m iqm_async.emulator --port 8000 --seed 1 --parallel
    with running_emulator(EmulatorConfig(seed=1)) as url: ...   # loopback, background thread
    app = create_app(EmulatorConfig(parallel=True, job_seconds=0))  # ASGI, in-process tests

It imports only ``models``, ``metadata``, ``quality`` and ``errors`` of iqm_async.
"""

from __future__ import annotations

from .app import create_app
from .config import EmulatorConfig
from .core import Emulator, JobRecord
from .runner import running_emulator, running_emulator_with_state

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "JobRecord",
    "create_app",
    "running_emulator",
    "running_emulator_with_state",
]
