"""The server URL, checked before any request (no I/O)."""

from __future__ import annotations

import ipaddress
import warnings
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["check_url"]


def check_url(url: str, *, in_process: bool = False) -> str:
    """Validate the server URL; warn for plain http to a host that is not this machine.

    Returns the URL with one trailing slash, so relative routes join below its path.
    ``in_process=True`` (an ASGI app in this process, nothing on the network) skips the warning.

    Raises:
        ConfigurationError: not an http(s) URL with a host.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"The server URL must be a string, got {type(url).__name__}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Invalid server URL {url!r}: give the full URL with scheme and host, e.g. "
            "'https://cocos.example.com' or 'http://127.0.0.1:8000' for a local emulator."
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "The server URL must not contain credentials; pass token=, tokens_file= or "
            "username=/password= instead."
        )
    if parts.scheme == "http" and not in_process and not _is_loopback(parts.hostname):
        warnings.warn(
            f"Plain http to {parts.hostname}: tokens and circuits travel unencrypted. Use https "
            "for anything but a server on this machine.",
            UserWarning,
            stacklevel=3,
        )
    return url.strip().rstrip("/") + "/"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
