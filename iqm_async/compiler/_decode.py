"""IQM measurements -> pytket ``BackendResult``, vectorised with numpy (private module).

Columns are placed by the layout's key -> bit table, never by the order of the JSON keys
(pytket-iqm 0.18 uses that order and so swaps bits when the server sorts keys differently).

The SDK hands measurements over as numpy arrays (``JobResult.measurement_arrays``), which
decode without a Python object per shot; lists of shots (``JobResult.measurements``) are
read with C-level iteration and checked the same way.
"""

from __future__ import annotations

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


def _column(key: str, shots: Any) -> np.ndarray:
    """One key's shots as a 1-D uint8 array (each shot must be a list of one bit)."""
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
            # As floats, so a fraction such as 0.5 is refused below, not truncated to 0.
            array = np.fromiter(map(itemgetter(0), shots), dtype=np.float64, count=len(shots))
        except (TypeError, ValueError):
            raise _not_a_list(key) from None
    array = array.reshape(len(array), -1) if array.ndim != 1 else array.reshape(-1, 1)
    if array.shape[1] != 1:
        raise _bad(f"Measurement '{key}' has {array.shape[1]} bits per shot, expected 1")
    if array.size and not _all_bits(array):
        raise _bad(f"Measurement '{key}' has values other than 0 and 1")
    return array[:, 0].astype(np.uint8)


def _all_bits(array: np.ndarray) -> bool:
    """Every value is 0 or 1 (np.isin costs ten times more on these small arrays)."""
    if array.dtype == np.uint8 or array.dtype == np.bool_:
        return bool(array.max() <= 1)
    return bool(((array == 0) | (array == 1)).all())


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
