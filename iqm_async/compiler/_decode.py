"""IQM measurements -> pytket ``BackendResult``, vectorised with numpy (private module).

Columns are placed by the layout's key -> bit table, never by the order of the JSON keys
(pytket-iqm 0.18 uses that order and so swaps bits when the server sorts keys differently).

Parsed JSON holds one Python list per shot and key (2 million for 20 bits x 100,000 shots),
so the cost is walking those lists. The fast path walks them once, in C, with ``marshal``
and checks the bytes with numpy; anything it does not recognise takes the plain path, which
alone decides what is an error.
"""

from __future__ import annotations

import marshal
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from pytket.backends.backendresult import BackendResult
from pytket.circuit import Bit, Circuit
from pytket.utils.outcomearray import OutcomeArray

from ..errors import InvalidResponseError
from ._translate import MeasurementLayout


def _bad(message: str) -> InvalidResponseError:
    return InvalidResponseError(
        f"{message}. The server's measurements do not match the circuit that was submitted; "
        "check that the result belongs to this circuit."
    )


def _not_a_list(key: str) -> InvalidResponseError:
    return _bad(f"Measurement '{key}' is not a list of shots of integers")


# marshal's version-2 encoding of a shot [b], b in {0, 1}: list tag "[", int32 length 1,
# int tag "i", int32 b (little-endian). Version 2 writes no back-references, so every shot
# takes exactly these 10 bytes whatever objects the list shares.
_MARSHAL_VERSION = 2
_SHOT = np.dtype([("list_tag", "<u4"), ("int_tag", "<u2"), ("bit", "<u4")])
_SHOT_LIST_TAG = int.from_bytes(b"[\x01\x00\x00", "little")
_SHOT_INT_TAG = int.from_bytes(b"\x00i", "little")
assert _SHOT.itemsize == len(marshal.dumps([1], _MARSHAL_VERSION)) == 10


def _bits_fast(shots: list[Any]) -> np.ndarray | None:
    """``shots`` as a uint8 array if every shot is exactly ``[0]`` or ``[1]`` (plain ints in
    plain lists), else None (the caller then takes the plain path and its error checks).

    One ``marshal.dumps`` walks all the lists in C (about 4x faster than reading them with
    ``map``); numpy then checks every shot's 10 bytes against the expected encoding.
    """
    try:
        packed = marshal.dumps(shots, _MARSHAL_VERSION)
    except ValueError:  # an object marshal cannot write, e.g. a numpy integer
        return None
    n_shots = len(shots)
    if len(packed) != 5 + _SHOT.itemsize * n_shots:
        return None
    encoded = np.frombuffer(packed, dtype=_SHOT, offset=5)
    bits = encoded["bit"]
    if not (
        np.all(encoded["list_tag"] == _SHOT_LIST_TAG)
        and np.all(encoded["int_tag"] == _SHOT_INT_TAG)
        and np.all(bits <= 1)
    ):
        return None
    return bits.astype(np.uint8)


def _column(key: str, shots: Any) -> np.ndarray:
    """One key's shots as a 1-D uint8 array (each shot must be a list of one bit)."""
    if type(shots) is list and (fast := _bits_fast(shots)) is not None:
        return fast
    if isinstance(shots, np.ndarray):
        array = shots
    else:
        # map/itemgetter and map/len run in C: about 5 ns per shot less than any numpy
        # conversion of the nested lists, and no 2-D object array is built.
        try:
            lengths = set(map(len, shots))
        except TypeError:  # the shots, or a shot, is not a sequence (e.g. a bare integer)
            raise _not_a_list(key) from None
        if lengths - {1}:
            raise _bad(f"Measurement '{key}' has shots that are not one bit each")
        try:
            array = np.fromiter(map(itemgetter(0), shots), dtype=np.int64, count=len(shots))
        except (TypeError, ValueError):
            raise _not_a_list(key) from None
    array = array.reshape(len(array), -1) if array.ndim != 1 else array.reshape(-1, 1)
    if array.shape[1] != 1:
        raise _bad(f"Measurement '{key}' has {array.shape[1]} bits per shot, expected 1")
    if array.size and (array.min() < 0 or array.max() > 1):
        raise _bad(f"Measurement '{key}' has values other than 0 and 1")
    return array[:, 0].astype(np.uint8)


def _ppcirc(ppcirc: Circuit | Mapping[str, Any] | None) -> Circuit | None:
    if ppcirc is None or isinstance(ppcirc, Circuit):
        return ppcirc
    return Circuit.from_dict(dict(ppcirc))


def to_backend_result(
    measurements: Mapping[str, Sequence[Sequence[int]] | np.ndarray],
    layout: MeasurementLayout,
    ppcirc: Circuit | Mapping[str, Any] | None = None,
) -> BackendResult:
    """Decode one circuit's IQM measurements into a pytket ``BackendResult``.

    Args:
        measurements: ``key -> shots``, each shot a list of one bit (the server's
            ``measurements[i]`` for this circuit); key order does not matter.
        layout: from :func:`measurement_layout` of the circuit that was submitted.
        ppcirc: the post-processing circuit from :func:`prepare_circuit` (or its dict), or
            None. Applied by pytket when counts or shots are read.

    Returns:
        A result with ``c_bits`` set to every bit of the circuit in pytket's order; bits no
        measurement wrote read 0.

    Raises:
        InvalidResponseError: keys missing or unexpected, shot counts that differ between
            keys, or values other than 0 and 1.
    """
    bits = [Bit(name, list(index)) for name, index in layout["bits"]]
    keys: dict[str, int] = layout["keys"]
    missing = [k for k in keys if k not in measurements]
    extra = [k for k in measurements if k not in keys]
    if missing or extra:
        raise _bad(f"Measurement keys missing: {missing}, unexpected: {extra}")
    columns = {key: _column(key, shots) for key, shots in measurements.items()}
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        raise _bad(f"Measurement keys have different numbers of shots: {sorted(lengths)}")
    n_shots = lengths.pop() if lengths else 0
    readouts = np.zeros((n_shots, len(bits)), dtype=np.uint8)
    for key, values in columns.items():
        readouts[:, keys[key]] = values
    shots = OutcomeArray(np.packbits(readouts, axis=-1), len(bits))
    return BackendResult(shots=shots, c_bits=bits, ppcirc=_ppcirc(ppcirc))
