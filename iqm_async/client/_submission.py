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

from ..errors import CircuitValidationError, ConfigurationError
from ..metadata import SingleQubitMapping, mapping_to_wire
from ..models import MEASURE_NAMES, Circuit, RunRequest

__all__ = [
    "RUN_OPTIONS",
    "build_run_request",
    "check_batch_measurements",
    "check_url",
    "check_uuid",
    "run_request_json",
]

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
        CircuitValidationError: a circuit that is not a valid :class:`Circuit` (or is a
            pytket circuit), or a batch whose circuits measure different qubits.
    """
    _check_shots(shots)
    _check_not_foreign(circuits, "circuits")
    batch = [circuits] if isinstance(circuits, Circuit | Mapping) else list(circuits)
    if not batch:
        raise CircuitValidationError("Nothing to run: give at least one circuit.")
    parsed: list[Circuit] = []
    for index, circuit in enumerate(batch):
        if isinstance(circuit, Circuit):
            parsed.append(circuit)
            continue
        _check_not_foreign(circuit, f"Circuit {index}")
        try:
            parsed.append(Circuit.model_validate(circuit))
        except ValidationError as exc:
            raise CircuitValidationError(f"Circuit {index} is invalid: {_summary(exc)}") from None
    check_batch_measurements(parsed)
    unknown = sorted(set(options or {}) - RUN_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"Unknown submit option(s) {unknown}; the options are {sorted(RUN_OPTIONS)}."
        )
    fields: dict[str, Any] = dict(options or {})
    fields.update(circuits=parsed, shots=shots)
    fields.update(_mapping_fields(qubit_mapping, calibration_set_id))
    try:
        return RunRequest.model_validate(fields)
    except ValidationError as exc:
        raise ConfigurationError(f"Invalid submission: {_summary(exc)}") from None


def run_request_json(
    circuits_json: Sequence[str],
    *,
    shots: int,
    qubit_mapping: Mapping[str, str] | None = None,
    calibration_set_id: UUID | str | None = None,
) -> bytes:
    """A run request body around circuits that are already wire JSON (from a trusted
    translator such as :func:`iqm_async.compiler.translate_json`; they are not parsed).

    Every other field is checked and written exactly as :func:`build_run_request` does (the
    defaults come from :class:`RunRequest`), so only the circuits skip validation.

    Raises:
        ConfigurationError: bad shots, mapping or calibration set id.
        CircuitValidationError: no circuits.
    """
    _check_shots(shots)
    if not circuits_json:
        raise CircuitValidationError("Nothing to run: give at least one circuit.")
    fields = {"circuits": [], "shots": shots, **_mapping_fields(qubit_mapping, calibration_set_id)}
    body = RunRequest.model_construct(**fields).to_wire_json()
    empty = b'{"circuits":[]'
    assert body.startswith(empty), body[:40]  # circuits is RunRequest's first field
    return b'{"circuits":[' + ",".join(circuits_json).encode() + b"]" + body[len(empty) :]


def _check_shots(shots: object) -> None:
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}")


def _mapping_fields(
    qubit_mapping: Mapping[str, str] | None, calibration_set_id: UUID | str | None
) -> dict[str, Any]:
    """The qubit mapping and calibration set fields of a request, checked (only those given)."""
    fields: dict[str, Any] = {}
    if qubit_mapping is not None:
        fields["qubit_mapping"] = _mapping_to_wire(qubit_mapping)
    if calibration_set_id is not None:
        fields["calibration_set_id"] = check_uuid(calibration_set_id, "calibration_set_id")
    return fields


def _check_not_foreign(value: object, what: str) -> None:
    """Refuse a pytket circuit or a string early, with the fix (they would iterate oddly)."""
    if isinstance(value, str | bytes):
        raise CircuitValidationError(
            f"{what} is a {type(value).__name__}, not a circuit; give an iqm_async.models.Circuit "
            "(or a dict of its fields), or a list of them."
        )
    if type(value).__module__.startswith("pytket"):
        raise CircuitValidationError(
            f"{what} is a pytket {type(value).__name__}; AsyncIQMClient takes "
            "iqm_async.models.Circuit. Use IQMBackend for pytket circuits, or translate a "
            "compiled one with iqm_async.compiler.to_iqm_circuit()."
        )


def check_batch_measurements(circuits: Sequence[Circuit]) -> None:
    """Refuse a batch whose circuits measure different qubits (no I/O).

    IQM servers run a batch only when every circuit measures the same qubits; otherwise the
    job fails after waiting in the queue. One qubit mapping covers the whole batch, so
    comparing names before mapping is the same as comparing physical qubits.

    Raises:
        CircuitValidationError: naming the first circuit that differs from circuit 0.
    """
    first: frozenset[str] | None = None
    for index, circuit in enumerate(circuits):
        measured = frozenset(
            q for inst in circuit.instructions if inst.name in MEASURE_NAMES for q in inst.qubits
        )
        if first is None:
            first = measured
        elif measured != first:
            raise CircuitValidationError(
                f"Circuit {index} ('{circuit.name}') measures qubits {sorted(measured)} but "
                f"circuit 0 measures {sorted(first)}; all circuits of one job must measure the "
                "same qubits. Submit circuits that measure different qubits as separate jobs."
            )


def _mapping_to_wire(mapping: object) -> list[SingleQubitMapping]:
    """``qubit_mapping`` checked and in wire form; a :class:`ConfigurationError` if malformed."""
    if not isinstance(mapping, Mapping):
        raise ConfigurationError(
            f"qubit_mapping must be a dict {{logical name: physical name}} such as "
            f"{{'q0': 'QB1'}}, got a {type(mapping).__name__}."
        )
    for logical, physical in mapping.items():
        if not (isinstance(logical, str) and isinstance(physical, str) and logical and physical):
            raise ConfigurationError(
                f"qubit_mapping entry {logical!r}: {physical!r} is not a pair of qubit names; "
                "map non-empty names to non-empty names, e.g. {'q0': 'QB1'}."
            )
    return mapping_to_wire(mapping)


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
