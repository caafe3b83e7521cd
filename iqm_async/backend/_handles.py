"""IQMBackend's result handles: made with a check digest, read back with every field checked
(private module).

A handle is ``(job id, circuit index in the job, measurement layout JSON, post-processing
circuit JSON)``; it is persistent (``str(handle)`` and ``ResultHandle.from_str``), so it may
come back damaged or edited. The layout carries a short digest of all four fields, so a
handle pointing at another job or circuit, or with its bits remapped, is refused instead of
decoding the wrong bits. The digest is not a signature: it catches damage and edits, not a
forger who recomputes it. Handles made before the digest existed are read with the
structural checks alone (each measurement key must name the bit it fills).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any, cast
from uuid import UUID

from pytket.backends.resulthandle import ResultHandle
from pytket.circuit import Bit

from ..compiler import MeasurementLayout
from ..errors import ConfigurationError

__all__ = ["make_handle", "read_handle"]

_CHECK = "check"


def _digest(job_id: str, index: int, layout: MeasurementLayout, ppcirc: str) -> str:
    canonical = json.dumps(
        [job_id, index, {k: v for k, v in layout.items() if k != _CHECK}, ppcirc],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def make_handle(job_id: str, index: int, layout: MeasurementLayout, ppcirc: str) -> ResultHandle:
    """The handle of circuit ``index`` of job ``job_id``, its layout carrying the digest."""
    checked = {**layout, _CHECK: _digest(job_id, index, layout, ppcirc)}
    return ResultHandle(job_id, index, json.dumps(checked), ppcirc)


def _damaged(handle: ResultHandle, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Result handle for job {str(handle[0])[:36]!r} is damaged or was changed ({why}). "
        "Use the handle process_circuits returned; str(handle) and ResultHandle.from_str "
        "keep it intact."
    )


def read_handle(handle: ResultHandle) -> tuple[str, int, MeasurementLayout, Any]:
    """``(job id, circuit index, layout, post-processing circuit dict or None)`` of a handle
    whose types pytket has checked.

    Raises:
        ConfigurationError: a field that is malformed, or that does not match the digest.
    """
    exact = type(handle[1]) is int and all(type(handle[i]) is str for i in (0, 2, 3))
    # Handles are checked before a wait and again when decoded: each is read once. Only
    # exact types are cached (True == 1 as a key); the dicts are shared, and only read.
    return _read_once(handle) if exact else _read(handle)


def _read(handle: ResultHandle) -> tuple[str, int, MeasurementLayout, Any]:
    job_id, index, layout_json, ppcirc_json = (cast(Any, part) for part in handle)
    try:
        if str(UUID(job_id)) != job_id:
            raise ValueError
    except ValueError:
        raise _damaged(handle, "the job id is not a UUID") from None
    if isinstance(index, bool) or index < 0:
        raise _damaged(handle, f"circuit index {index!r}")
    try:
        layout = json.loads(layout_json)
        ppcirc = json.loads(ppcirc_json)
    except (ValueError, RecursionError):
        raise _damaged(handle, "its layout or post-processing circuit is not JSON") from None
    _check_layout(handle, layout)
    if ppcirc is not None and not isinstance(ppcirc, dict):
        raise _damaged(handle, "its post-processing circuit is not a circuit")
    check = layout.get(_CHECK)
    if check is not None and check != _digest(job_id, index, layout, ppcirc_json):
        raise _damaged(handle, "its fields do not match its check digest")
    return job_id, index, layout, ppcirc


_read_once = lru_cache(maxsize=4096)(_read)


def _check_layout(handle: ResultHandle, layout: object) -> None:
    """The layout's shape, and that each key names the bit whose column it fills (as the
    translator names keys), so remapped bits are refused even without a digest."""
    if not isinstance(layout, dict):
        raise _damaged(handle, "its layout is not an object")
    bits, keys = layout.get("bits"), layout.get("keys")
    if not isinstance(bits, list) or not isinstance(keys, dict):
        raise _damaged(handle, "its layout has no 'bits' list or 'keys' object")
    names = []
    for entry in bits:
        ok = (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], list)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in entry[1])
        )
        if not ok:
            raise _damaged(handle, "a bit of its layout is not [register, [index, ...]]")
        try:
            names.append(str(Bit(entry[0], entry[1])))
        except (TypeError, ValueError, RuntimeError):
            raise _damaged(handle, "a bit of its layout is not a pytket bit") from None
    for key, column in keys.items():
        if isinstance(column, bool) or not isinstance(column, int):
            raise _damaged(handle, f"key {key!r} of its layout has no column")
        if not 0 <= column < len(names) or names[column] != key:
            raise _damaged(handle, f"key {key!r} of its layout points at the wrong bit")
