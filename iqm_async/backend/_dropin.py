"""What makes :class:`~iqm_async.backend.IQMBackend` a drop-in for pytket-iqm, as plain
functions without I/O (private module): which of the two constructor forms was used and what
it names, pytket's view of a job's status, and an architecture given offline.

The two constructor forms::

    IQMBackend(url, arch=None, auth_server_url=None, username=None, password=None, ...)
    IQMBackend(device, api_token=None, server_url=None)      # pytket-iqm 0.16-0.18

A first argument with a scheme (``https://...``) is a URL; anything else is a device alias.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pytket.backends.status import CircuitStatus, StatusEnum

from ..errors import ConfigurationError
from ..models import DynamicQuantumArchitecture
from ..results import JobPhase, JobStatus

__all__ = [
    "DEFAULT_SERVER_URL",
    "BackendTarget",
    "circuit_status_of",
    "fine_state",
    "offline_architecture",
    "resolve_target",
]

DEFAULT_SERVER_URL = "https://resonance.iqm.tech"
"""Where ``IQMBackend(device)`` goes without ``server_url`` or ``IQM_SERVER_URL``."""

_SEED_FORM = "IQMBackend(url, arch=None, auth_server_url=None, username=None, password=None)"
_DEVICE_FORM = "IQMBackend(device, api_token=None, server_url=None)"


@dataclass(frozen=True)
class BackendTarget:
    """What the constructor arguments name.

    Attributes:
        url: the URL the client is given.
        quantum_computer: the device alias on the IQM Server API (device form), else None.
        arch: the couplings that override the server's (seed form), else None.
        token: the API token (``api_token`` or ``token``), if given.
        auth_server_url, username, password: password login (seed form), if given.
    """

    url: str
    quantum_computer: str | None
    arch: list[list[str]] | None
    token: str | None
    auth_server_url: str | None
    username: str | None
    password: str | None


def _is_url(text: str) -> bool:
    return "://" in text


def _one_token(api_token: str | None, token: str | None) -> str | None:
    if api_token is not None and token is not None and api_token != token:
        raise ConfigurationError(
            "api_token and token are two names for the same API token: give one of them."
        )
    return api_token if api_token is not None else token


def resolve_target(
    url: str | None,
    arch: object = None,
    auth_server_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    *,
    device: str | None = None,
    api_token: str | None = None,
    token: str | None = None,
    server_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BackendTarget:
    """Tell the two constructor forms apart and say what they name (no I/O).

    Device form (``device=...``, or a first argument that is not a URL): its second and
    third positional arguments are ``api_token`` and ``server_url``; the URL is
    ``server_url``, else ``IQM_SERVER_URL``, else :data:`DEFAULT_SERVER_URL`.

    Raises:
        ConfigurationError: neither a URL nor a device; both; a device form given seed-form
            arguments (couplings, username/password) or the reverse (``server_url``); a
            second positional argument in the device form that is not a token.
    """
    environment = os.environ if env is None else env
    if device is not None and url is not None:
        raise ConfigurationError(
            f"Give a server URL ({_SEED_FORM}) or a device ({_DEVICE_FORM}), not both: got "
            f"{url!r} and device={device!r}."
        )
    first = device if device is not None else url
    if first is None or not isinstance(first, str) or not first.strip():
        raise ConfigurationError(
            f"IQMBackend needs a server URL ({_SEED_FORM}) or a device alias such as 'garnet' "
            f"({_DEVICE_FORM}); got {first!r}."
        )
    if device is None and _is_url(first):
        if server_url is not None:
            raise ConfigurationError(
                f"server_url belongs to the device form {_DEVICE_FORM}; with a URL as the "
                f"first argument, that URL is the server ({first!r}): leave server_url out."
            )
        couplings = [list(pair) for pair in arch] if arch is not None else None  # type: ignore[attr-defined]
        return BackendTarget(
            url=first,
            quantum_computer=None,
            arch=couplings,
            token=_one_token(api_token, token),
            auth_server_url=auth_server_url,
            username=username,
            password=password,
        )
    # The device form: positional slots 2 and 3 are api_token and server_url.
    if arch is not None and not isinstance(arch, str):
        raise ConfigurationError(
            f"With a device alias ({first!r}) the second argument is the API token "
            f"({_DEVICE_FORM}), got {type(arch).__name__}. To restrict the couplings, use the "
            f"URL form {_SEED_FORM}."
        )
    if arch is not None and api_token is not None:
        raise ConfigurationError("api_token was given twice (as an argument and by keyword).")
    if auth_server_url is not None and server_url is not None:
        raise ConfigurationError("server_url was given twice (as an argument and by keyword).")
    if username is not None or password is not None:
        raise ConfigurationError(
            f"The device form {_DEVICE_FORM} logs in with an API token; for a username and "
            f"password use the URL form {_SEED_FORM}."
        )
    if "/" in first or any(c.isspace() for c in first):
        raise ConfigurationError(
            f"{first!r} is neither a URL (it has no scheme, e.g. 'https://') nor a device "
            "alias (no slashes or spaces, e.g. 'garnet')."
        )
    server = server_url or auth_server_url or environment.get("IQM_SERVER_URL") or None
    return BackendTarget(
        url=server or DEFAULT_SERVER_URL,
        quantum_computer=first,
        arch=None,
        token=_one_token(arch if isinstance(arch, str) else api_token, token),
        auth_server_url=None,
        username=None,
        password=None,
    )


def offline_architecture(architecture: object) -> DynamicQuantumArchitecture:
    """An architecture given to the constructor (no I/O): a
    :class:`~iqm_async.models.DynamicQuantumArchitecture`, its JSON text (e.g.
    ``dqa.model_dump_json()`` saved earlier) or the parsed JSON object.

    Raises:
        ConfigurationError: it is none of those, or not a valid dynamic architecture.
    """
    if isinstance(architecture, DynamicQuantumArchitecture):
        return architecture
    try:
        if isinstance(architecture, str | bytes):
            return DynamicQuantumArchitecture.model_validate_json(architecture)
        if isinstance(architecture, Mapping):
            return DynamicQuantumArchitecture.model_validate(dict(architecture))
    except (ValidationError, json.JSONDecodeError) as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
            for e in (exc.errors() if isinstance(exc, ValidationError) else [])
        )
        raise ConfigurationError(
            "architecture is not a valid dynamic quantum architecture"
            f" ({problems or exc}); pass the DynamicQuantumArchitecture (or its JSON) that "
            "client.dynamic_architecture() returned."
        ) from None
    raise ConfigurationError(
        "architecture must be a DynamicQuantumArchitecture, its JSON text or its parsed JSON "
        f"object, got {type(architecture).__name__}."
    )


_FINAL = {
    JobPhase.COMPLETED: StatusEnum.COMPLETED,
    JobPhase.FAILED: StatusEnum.ERROR,
    JobPhase.CANCELLED: StatusEnum.CANCELLED,
}


def fine_state(status: JobStatus) -> str:
    """The phase and the server's own word and message, e.g. ``"queued (pending
    compilation)"`` or ``"failed: out of memory"`` (no I/O)."""
    text = str(status.phase)
    if status.raw and status.raw != text:
        text += f" ({status.raw})"
    if status.message:
        text += f": {status.message}"
    return text


def circuit_status_of(
    status: JobStatus, seen: Mapping[str, datetime] | None = None
) -> CircuitStatus:
    """A job's status as pytket's ``CircuitStatus``, as pytket-iqm reports it (no I/O).

    Every unfinished phase is ``SUBMITTED`` (pytket-iqm's only word for them), with the fine
    state (:func:`fine_state`) in ``message`` and the queue position where the server
    reports it. ``seen`` holds the times this backend saw the job submitted and in each
    phase (keys ``"submitted"`` and ``str(phase)``), which fill pytket's timestamps.
    """
    times: Mapping[str, datetime] = seen or {}
    stamps: dict[str, Any] = {
        "submitted_time": times.get("submitted"),
        "queued_time": times.get(str(JobPhase.QUEUED)),
        "running_time": times.get(str(JobPhase.RUNNING)),
        "completed_time": times.get(str(JobPhase.COMPLETED)),
        "error_time": times.get(str(JobPhase.FAILED)),
        "cancelled_time": times.get(str(JobPhase.CANCELLED)),
    }
    final = _FINAL.get(status.phase)
    if final is StatusEnum.COMPLETED:
        return CircuitStatus(final, "", **stamps)
    if final is not None:
        return CircuitStatus(final, status.message or status.raw, **stamps)
    return CircuitStatus(
        StatusEnum.SUBMITTED, fine_state(status), queue_position=status.queue_position, **stamps
    )
