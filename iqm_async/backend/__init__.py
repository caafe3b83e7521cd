"""The pytket face: :class:`IQMBackend`, a pytket ``Backend`` over :class:`AsyncIQMClient`.

The only place where sync code meets the async core: the backend runs one event loop in one
background thread for its whole life (``_loop``), checks circuits against the device
(``_checks``), reads pytket-iqm's two constructor forms and reports statuses in its words
(``_dropin``), and hands circuits to the compiler and jobs to the client.
"""

from ._backend import DEFAULT_BATCH_SIZE, IQMBackend, backend_credentials
from ._checks import InvalidCircuitError
from ._dropin import (
    DEFAULT_SERVER_URL,
    BackendTarget,
    circuit_status_of,
    fine_state,
    offline_architecture,
    resolve_target,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SERVER_URL",
    "BackendTarget",
    "IQMBackend",
    "InvalidCircuitError",
    "backend_credentials",
    "circuit_status_of",
    "fine_state",
    "offline_architecture",
    "resolve_target",
]
