"""The pytket face: :class:`AsyncIQMBackend` for asyncio and trio programs, and
:class:`IQMBackend`, the sync pytket ``Backend`` over it.

The only place where sync code meets the async core: ``IQMBackend`` runs one event loop in
one background thread for its whole life (``_loop``) with an ``AsyncIQMBackend`` in it
(``_async``), which checks circuits against the device (``_checks``) and hands circuits to
the compiler and jobs to the client. ``_dropin`` reads pytket-iqm's two constructor forms and
reports statuses in its words.
"""

from ._async import AsyncIQMBackend
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
    "AsyncIQMBackend",
    "BackendTarget",
    "IQMBackend",
    "InvalidCircuitError",
    "backend_credentials",
    "circuit_status_of",
    "fine_state",
    "offline_architecture",
    "resolve_target",
]
