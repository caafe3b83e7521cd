"""Decisions of :class:`~iqm_async.client.AsyncIQMClient` that need no I/O: checking the server
URL and building a validated :class:`~iqm_async.models.RunRequest` from ``submit``'s arguments.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import ValidationError

from .errors import CircuitValidationError, ConfigurationError
from .metadata import mapping_to_wire
from .models import Circuit, RunRequest

__all__ = ["RUN_OPTIONS", "build_run_request", "check_url", "check_uuid"]

_SET_BY_SUBMIT = frozenset({"circuits", "shots", "qubit_mapping", "calibration_set_id"})
RUN_OPTIONS = frozenset(RunRequest.model_fields) - _SET_BY_SUBMIT
"""Keyword options :meth:`AsyncIQMClient.submit` accepts besides its named arguments."""


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


def check_uuid(value: UUID | str, what: str) -> UUID:
    """``value`` as a UUID; a :class:`ConfigurationError` naming ``what`` if it is not one."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ConfigurationError(f"{what} must be a UUID, got {value!r}") from None


def build_run_request(
    circuits: Circuit | Sequence[Circuit],
    *,
    shots: int,
    qubit_mapping: Mapping[str, str] | None = None,
    calibration_set_id: UUID | str | None = None,
    options: Mapping[str, Any] | None = None,
) -> RunRequest:
    """Validate a submission and build its :class:`~iqm_async.models.RunRequest` (no I/O).

    Raises:
        ConfigurationError: bad shots, unknown option, bad mapping or calibration set id.
        CircuitValidationError: a circuit that is not a valid :class:`Circuit`.
    """
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}")
    batch = [circuits] if isinstance(circuits, Circuit | Mapping) else list(circuits)
    if not batch:
        raise CircuitValidationError("Nothing to run: give at least one circuit.")
    parsed: list[Circuit] = []
    for index, circuit in enumerate(batch):
        if isinstance(circuit, Circuit):
            parsed.append(circuit)
            continue
        try:
            parsed.append(Circuit.model_validate(circuit))
        except ValidationError as exc:
            raise CircuitValidationError(f"Circuit {index} is invalid: {_summary(exc)}") from None
    unknown = sorted(set(options or {}) - RUN_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"Unknown submit option(s) {unknown}; the options are {sorted(RUN_OPTIONS)}."
        )
    fields: dict[str, Any] = dict(options or {})
    fields.update(circuits=parsed, shots=shots)
    if qubit_mapping is not None:
        fields["qubit_mapping"] = mapping_to_wire(qubit_mapping)
    if calibration_set_id is not None:
        fields["calibration_set_id"] = check_uuid(calibration_set_id, "calibration_set_id")
    try:
        return RunRequest.model_validate(fields)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid submission: {_summary(exc)}") from None


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
        for err in exc.errors()[:3]
    )
