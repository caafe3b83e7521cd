"""iqm_async: an async SDK for running quantum circuits on IQM quantum computers.

``import iqm_async`` loads no pytket, starts no thread and touches no network.
"""

from . import errors, models
from .errors import IQMError
from .metadata import Metadata, SingleQubitMapping
from .models import Circuit, Instruction, RunRequest, RunResult, Status

__version__ = "0.1.0"

__all__ = [
    "Circuit",
    "IQMError",
    "Instruction",
    "Metadata",
    "RunRequest",
    "RunResult",
    "SingleQubitMapping",
    "Status",
    "__version__",
    "errors",
    "models",
]
