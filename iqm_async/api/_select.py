"""Which server API a client speaks: decided from its arguments, or from the server's answer
to :data:`~iqm_async.api.iqm_server.QUANTUM_COMPUTERS_ROUTE` (no I/O here)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ._base import ServerAPI
from .cocos import CocosV1
from .iqm_server import IQMServerV1
from .iqm_server_wire import QuantumComputer

__all__ = ["API_NAMES", "choose_api", "resolve_api"]

API_NAMES = ("auto", "cocos", "iqm-server")
"""The names ``AsyncIQMClient(api=...)`` accepts besides a :class:`ServerAPI` instance."""


def _device_path(url: str) -> str:
    return urlsplit(url).path.strip("/")


def _is_cocos_host(url: str) -> bool:
    return (urlsplit(url).hostname or "").startswith("cocos.")


def resolve_api(
    api: ServerAPI | str, *, url: str, quantum_computer: str | None = None
) -> ServerAPI | None:
    """The variant ``api`` names, when that needs no request; ``None`` when the server must
    be asked (``"auto"`` at a root URL, or ``"iqm-server"`` without a quantum computer).

    Raises:
        ConfigurationError: an unknown name; ``"iqm-server"`` with a URL that has a device
            path or a CoCoS host (the message says what to use instead).
    """
    if isinstance(api, ServerAPI):
        return api
    if api == "cocos":
        return CocosV1()
    if api == "iqm-server":
        path = _device_path(url)
        if path:
            device = path.rsplit("/", 1)[-1]
            root = url[: url.index(path)].rstrip("/")
            raise ConfigurationError(
                f"The IQM Server API is reached at the server's root URL: use {root!r} and "
                f"quantum_computer={device!r} instead of {url!r}."
            )
        if _is_cocos_host(url):
            raise ConfigurationError(
                f"{url!r} is a CoCoS host, which speaks the V1 jobs API: use api='cocos' (or "
                "api='auto'), or the IQM Server's root URL, e.g. 'https://resonance.iqm.tech'."
            )
        return IQMServerV1(quantum_computer) if quantum_computer else None
    if api == "auto":
        # A device path or a cocos.* host can only be a CoCoS server: no need to ask.
        if _device_path(url) or _is_cocos_host(url):
            return CocosV1()
        return None
    raise ConfigurationError(
        f"api must be one of {list(API_NAMES)} or a ServerAPI instance, got {api!r}."
    )


def choose_api(
    quantum_computers: list[QuantumComputer] | None, quantum_computer: str | None
) -> ServerAPI:
    """The variant for a server that answered the quantum-computer listing with
    ``quantum_computers`` (``None``: it does not know the route, so it is a CoCoS server).

    Raises:
        ConfigurationError: the quantum computer named is not listed, or none was named and
            the server has several (the message lists their aliases).
    """
    if quantum_computers is None:
        if quantum_computer:
            raise ConfigurationError(
                f"quantum_computer={quantum_computer!r} was given, but the server does not "
                "list quantum computers: it speaks the V1 jobs API, where the URL names the "
                "device. Leave quantum_computer out."
            )
        return CocosV1()
    aliases = [qc.alias for qc in quantum_computers]
    if quantum_computer:
        if quantum_computer not in aliases:
            raise ConfigurationError(
                f"The server has no quantum computer {quantum_computer!r}; it has: "
                f"{', '.join(aliases) or 'none'}."
            )
        return IQMServerV1(quantum_computer)
    if len(aliases) == 1:
        return IQMServerV1(aliases[0])
    raise ConfigurationError(
        "Choose a quantum computer with quantum_computer=... or IQM_QUANTUM_COMPUTER; the "
        f"server has: {', '.join(aliases) or 'none'}."
    )
