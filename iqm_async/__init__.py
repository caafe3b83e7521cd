"""iqm_async: an async SDK for running quantum circuits on IQM quantum computers.

``import iqm_async`` loads no pytket, starts no thread and touches no network: the pytket
names (``IQMBackend``, ``IQMConfig``, ``set_iqm_config``) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import api, errors, models, results
from .client import AsyncIQMClient
from .errors import IQMError
from .jobs import Job, ServerWarning
from .metadata import SingleQubitMapping
from .models import Circuit, Instruction, Metadata, RunRequest
from .policies import PollPolicy, RetryPolicy
from .results import CircuitCounts, JobPhase, JobResult, JobStatus

if TYPE_CHECKING:
    from .backend import IQMBackend
    from .config import IQMConfig, set_iqm_config

__version__ = "0.1.0"

_LAZY = {
    "IQMBackend": "backend",
    "IQMConfig": "config",
    "set_iqm_config": "config",
}


def __getattr__(name: str) -> Any:
    """Import the pytket-based names only when they are first used."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'iqm_async' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncIQMClient",
    "Circuit",
    "CircuitCounts",
    "IQMBackend",
    "IQMConfig",
    "IQMError",
    "Instruction",
    "Job",
    "JobPhase",
    "JobResult",
    "JobStatus",
    "Metadata",
    "PollPolicy",
    "RetryPolicy",
    "RunRequest",
    "ServerWarning",
    "SingleQubitMapping",
    "__version__",
    "api",
    "errors",
    "models",
    "results",
    "set_iqm_config",
]
