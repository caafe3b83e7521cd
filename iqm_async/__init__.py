"""iqm_async: an async SDK for running quantum circuits on IQM quantum computers.

``import iqm_async`` loads no pytket, starts no thread and touches no network.
"""

from . import errors, models
from .client import AsyncIQMClient
from .errors import IQMError
from .jobs import Job, ServerWarning
from .metadata import Metadata, SingleQubitMapping
from .models import Circuit, Instruction, RunRequest, RunResult, Status
from .policies import PollPolicy, RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "AsyncIQMClient",
    "Circuit",
    "IQMError",
    "Instruction",
    "Job",
    "Metadata",
    "PollPolicy",
    "RetryPolicy",
    "RunRequest",
    "RunResult",
    "ServerWarning",
    "SingleQubitMapping",
    "Status",
    "__version__",
    "errors",
    "models",
]
