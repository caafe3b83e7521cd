"""The pytket face: :class:`IQMBackend`, a pytket ``Backend`` over :class:`AsyncIQMClient`.

The only place where sync code meets the async core: the backend runs one event loop in one
background thread for its whole life (``_loop``), checks circuits against the device
(``_checks``), and hands circuits to the compiler and jobs to the client.
"""

from ._backend import DEFAULT_BATCH_SIZE, IQMBackend, backend_credentials, circuit_status_of

__all__ = ["DEFAULT_BATCH_SIZE", "IQMBackend", "backend_credentials", "circuit_status_of"]
