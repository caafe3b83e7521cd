"""The async client: :class:`AsyncIQMClient`, its poller, and the checks of its arguments.

The client talks to the server only through its API variant (:mod:`iqm_async.api`) and the
HTTP boundary (:mod:`iqm_async.transport`); it sees job phases, never route paths or server
status strings.
"""

from ._client import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT, AsyncIQMClient, check_url

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_TIMEOUT", "AsyncIQMClient", "check_url"]
