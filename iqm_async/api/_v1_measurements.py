"""Read the measurements of a V1 result body straight into numpy arrays (private module).

``json.loads`` (or pydantic) turns ``"measurements"`` into one Python list per shot and key:
200,000 lists for 1,000 circuits of 2 bits x 100 shots. Building them is the cost of a
result fetch, and while they live every full garbage collection walks them. This reader
finds the measurements in the bytes with vectorised numpy passes (string and nesting depth
of every byte), takes each key's bits as a ``shots x bits`` uint8 array, and hands back the
body with the measurements replaced by ``null`` for the ordinary parser.

It reads only the plain form servers send: no backslash anywhere in the body, bits written
as single digits 0 or 1, every shot of a key as wide as the others, at least one shot.
For anything else it returns None and the caller parses the whole body the ordinary way,
which alone decides what is an error.

:func:`split_metadata` likewise cuts the top-level ``metadata`` object out as JSON: it is
mostly the echo of every circuit, which a caller that only wants the bits never reads.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

__all__ = ["MeasurementArrays", "split_measurements", "split_metadata"]

MeasurementArrays = list[dict[str, npt.NDArray[np.uint8]]]
"""One dict per circuit: measurement key -> ``shots x bits`` uint8 array."""

_KEY = re.compile(rb'"measurements"\s*:\s*')
_METADATA_KEY = re.compile(rb'"metadata"\s*:\s*')
_QUOTE, _BACKSLASH, _ZERO = ord('"'), ord("\\"), ord("0")
_OPENERS = np.zeros(256, dtype=np.int8)
_OPENERS[[ord("["), ord("{")]] = 1
_OPENERS[[ord("]"), ord("}")]] = -1
# Bytes allowed outside strings inside the measurements value.
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[list(b"[]{},: \t\r\n01")] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"01")] = True


def split_measurements(body: bytes) -> tuple[bytes, MeasurementArrays] | None:
    """``(body with the measurements value replaced by null, the measurements as arrays)``,
    or None when the body has no measurements or is not in the plain form described above.
    """
    scan = _scan(body)
    if scan is None:
        return None
    start = _top_level_value(body, scan[1], scan[2], _KEY)
    return None if start is None else _read(body, *scan, start)


def split_metadata(body: bytes) -> tuple[bytes, bytes] | None:
    """``(body with the top-level metadata object replaced by {}, that object's JSON)``, so
    the metadata (mostly the echo of every circuit) is parsed only if someone asks for it;
    None when there is no metadata object or the body has an escape (see above).
    """
    scan = _scan(body)
    if scan is None:
        return None
    _, in_string, depth = scan
    start = _top_level_value(body, in_string, depth, _METADATA_KEY)
    if start is None or body[start : start + 1] != b"{":
        return None
    closed = np.flatnonzero(depth[start:] == 1)
    if not closed.size:
        return None
    end = start + int(closed[0])  # the "}" that closes the metadata object
    return body[:start] + b"{}" + body[end + 1 :], body[start : end + 1]


def _scan(
    body: bytes,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], npt.NDArray[np.int64]] | None:
    """The bytes, whether each is inside a string, and the nesting depth after each."""
    if _BACKSLASH in body:
        return None  # escaped quotes would need a real tokenizer
    raw = np.frombuffer(body, dtype=np.uint8)
    quotes = raw == _QUOTE
    in_string = (np.cumsum(quotes, dtype=np.int64) & 1).astype(bool) | quotes
    depth = np.cumsum(np.where(in_string, 0, _OPENERS[raw]), dtype=np.int64)
    return raw, in_string, depth


def _top_level_value(
    body: bytes,
    in_string: npt.NDArray[np.bool_],
    depth: npt.NDArray[np.int64],
    key: re.Pattern[bytes],
) -> int | None:
    """Where the value of ``key`` in the top-level object starts, or None."""
    for match in key.finditer(body):
        # The key must open a string at the top level (depth 1) of the result object.
        if depth[match.start()] == 1 and in_string[match.start()]:
            return match.end()
    return None


def _read(
    body: bytes,
    raw: npt.NDArray[np.uint8],
    in_string: npt.NDArray[np.bool_],
    depth: npt.NDArray[np.int64],
    start: int,
) -> tuple[bytes, MeasurementArrays] | None:
    if body[start : start + 1] != b"[":
        return None  # null (no measurements yet) or something unexpected
    closed = np.flatnonzero(depth[start:] == 1)
    if not closed.size:
        return None
    end = start + int(closed[0])  # the "]" that closes the measurements list
    region = slice(start, end + 1)
    level = depth[region] - depth[start]  # 0 in the list; 1 circuit; 2 key's list; 3 shot
    code = raw[region]
    outside = ~in_string[region]
    if not np.all(_ALLOWED[code[outside]]) or np.any(~outside & (level != 1)):
        return None  # a literal other than 0/1, or a string anywhere but a key name
    digit = outside & _DIGIT[code]
    if np.any(digit[1:] & digit[:-1]) or np.any(digit & (level != 3)):
        return None  # a number that is not a single bit, or a bit outside a shot
    opens = outside & (_OPENERS[code] == 1)
    circuit_at = np.flatnonzero(opens & (level == 1) & (code == ord("{")))
    keys_at = np.flatnonzero(opens & (level == 2) & (code == ord("[")))
    shots_at = np.flatnonzero(opens & (level == 3) & (code == ord("[")))
    bits_at = np.flatnonzero(digit)
    names_at = np.flatnonzero(in_string[region] & (code == _QUOTE) & (level == 1))
    if names_at.size != 2 * keys_at.size or not keys_at.size or not shots_at.size:
        return None  # each key is a name (two quotes) and a list; empty results go the slow way
    key_of_shot = np.searchsorted(keys_at, shots_at, side="right") - 1
    shots_per_key = np.bincount(key_of_shot, minlength=keys_at.size)
    width_of_shot = np.bincount(
        np.searchsorted(shots_at, bits_at, side="right") - 1, minlength=shots_at.size
    )
    first_shot = np.concatenate(([0], np.cumsum(shots_per_key)[:-1]))
    if np.any(shots_per_key == 0) or np.any(
        width_of_shot != width_of_shot[first_shot][key_of_shot]
    ):
        return None  # a key without shots, or shots of different widths
    widths = width_of_shot[first_shot]
    circuit_of_key = np.searchsorted(circuit_at, keys_at, side="right") - 1
    if np.any(widths == 0) or np.any(circuit_of_key < 0):
        return None
    # The separators a well-formed list of {name: [[bit, ...], ...], ...} has, level by level.
    keys_per_circuit = np.bincount(circuit_of_key, minlength=circuit_at.size)
    commas = np.bincount(level[outside & (code == ord(","))], minlength=4)[:4]
    colons = np.count_nonzero(outside & (code == ord(":")))
    expected = (
        circuit_at.size - 1,
        int(np.sum((keys_per_circuit - 1).clip(min=0))),
        int(np.sum(shots_per_key - 1)),
        int(np.sum(width_of_shot - 1)),
    )
    if tuple(int(c) for c in commas) != expected or colons != keys_at.size:
        return None
    bits = code[bits_at] - _ZERO
    measurements: MeasurementArrays = [{} for _ in range(circuit_at.size)]
    offset = 0
    for k in range(keys_at.size):
        name = body[start + int(names_at[2 * k]) + 1 : start + int(names_at[2 * k + 1])]
        n_shots, width = int(shots_per_key[k]), int(widths[k])
        size = n_shots * width
        target = measurements[int(circuit_of_key[k])]
        key = name.decode("utf-8")
        if key in target:
            return None  # a repeated key: let the ordinary parser decide
        target[key] = bits[offset : offset + size].reshape(n_shots, width)
        offset += size
    return body[:start] + b"null" + body[end + 1 :], measurements
