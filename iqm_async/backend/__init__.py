"""The pytket face: :class:`AsyncIQMBackend` for asyncio and trio programs, and
:class:`IQMBackend`, the sync pytket ``Backend`` over it.

The only place where sync code meets the async core: ``IQMBackend`` runs one event loop in
one background thread for its whole life (``_loop``) with an ``AsyncIQMBackend`` in it
(``_async``), which checks circuits against the device (``_checks``) and hands circuits to
the compiler and jobs to the client.
"""

from ._async import AsyncIQMBackend, circuit_status_of
from ._backend import DEFAULT_BATCH_SIZE, IQMBackend, backend_credentials

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "AsyncIQMBackend",
    "IQMBackend",
    "backend_credentials",
    "circuit_status_of",
]
