"""Read the measurements of a V1 result body straight into numpy arrays (private module).

``json.loads`` (or pydantic) turns ``"measurements"`` into one Python list per shot and key:
200,000 lists for 1,000 circuits of 2 bits x 100 shots. Building them is the cost of a
result fetch, and while they live every full garbage collection walks them. This reader
finds the measurements in the bytes with vectorised numpy passes (string and nesting depth
of every byte), checks that every token may follow the one before it (a table of the
grammar of ``[{"name": [[bit, ...], ...], ...}, ...]``), takes each key's bits as a
``shots x bits`` uint8 array, and hands back the body with the measurements replaced by
``null`` for the ordinary parser. ``benchmarks/result_reader.py`` measures what it saves.

It reads only the plain form servers send: no backslash anywhere in the body, bits written
as single digits 0 or 1, every shot of a key as wide as the others, at least one shot.
For anything else, valid JSON or not, it returns None and the caller parses the whole body
the ordinary way, which alone decides what is an error.

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
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r\n")] = True
_CONTROL = re.compile(rb"[\x00-\x1f]")  # not allowed unescaped in a JSON string

# The measurements value as a sequence of tokens (whitespace and the insides of key names
# left out). Each token's class follows from its character and the nesting level after it,
# 0 in the list of circuits, 1 in a circuit, 2 in a key's list of shots, 3 in a shot:
_CIRCUIT_NEXT = 1  # "[" opening the list, "," between circuits
_CIRCUIT, _NAME, _NAME_END, _COLON, _SHOTS, _SHOT, _BIT, _BIT_COMMA = range(2, 10)
_SHOT_END, _SHOT_COMMA, _SHOTS_END, _KEY_COMMA, _CIRCUIT_END, _LIST_END = range(10, 16)
_CHARS = b'[]{},:"01'
_CHAR = np.full(256, len(_CHARS) - 1, dtype=np.uint8)  # anything else: class 0, refused
_CHAR[list(_CHARS)] = np.arange(len(_CHARS))
_CHAR[ord("1")] = _CHAR[ord("0")]
_CLASS = np.zeros(len(_CHARS) * 5, dtype=np.uint8)  # [character * 5 + level + 1] -> class
for (char, level), token_class in {
    (b"[", 0): _CIRCUIT_NEXT, (b"[", 2): _SHOTS, (b"[", 3): _SHOT,
    (b"]", -1): _LIST_END, (b"]", 1): _SHOTS_END, (b"]", 2): _SHOT_END,
    (b"{", 1): _CIRCUIT, (b"}", 0): _CIRCUIT_END, (b":", 1): _COLON, (b'"', 1): _NAME,
    (b",", 0): _CIRCUIT_NEXT, (b",", 1): _KEY_COMMA, (b",", 2): _SHOT_COMMA,
    (b",", 3): _BIT_COMMA, (b"0", 3): _BIT,
}.items():  # fmt: skip
    _CLASS[int(_CHAR[ord(char)]) * 5 + level + 1] = token_class
# Which class may follow which: the grammar of [{"name": [[bit, ...], ...], ...}, ...].
_FOLLOWS = np.zeros(256, dtype=bool)  # [class * 16 + next class]
for token_class, successors in {
    _CIRCUIT_NEXT: [_CIRCUIT], _CIRCUIT: [_NAME, _CIRCUIT_END], _NAME: [_NAME_END],
    _NAME_END: [_COLON], _COLON: [_SHOTS], _SHOTS: [_SHOT], _SHOT: [_BIT],
    _BIT: [_BIT_COMMA, _SHOT_END], _BIT_COMMA: [_BIT], _SHOT_END: [_SHOT_COMMA, _SHOTS_END],
    _SHOT_COMMA: [_SHOT], _SHOTS_END: [_KEY_COMMA, _CIRCUIT_END], _KEY_COMMA: [_NAME],
    _CIRCUIT_END: [_CIRCUIT_NEXT, _LIST_END],
}.items():  # fmt: skip
    _FOLLOWS[[16 * token_class + n for n in successors]] = True


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
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], npt.NDArray[np.int32]] | None:
    """The bytes, whether each is inside a string, and the nesting depth after each."""
    if _BACKSLASH in body or len(body) >= 2**31:
        return None  # escaped quotes would need a real tokenizer; int32 counts need < 2 GB
    raw = np.frombuffer(body, dtype=np.uint8)
    quotes = raw == _QUOTE
    # int32, not int64: the cumulative sums are the reader's widest arrays.
    in_string = (np.cumsum(quotes, dtype=np.int32) & 1).astype(bool) | quotes
    depth = np.cumsum(np.where(in_string, 0, _OPENERS[raw]), dtype=np.int32)
    return raw, in_string, depth


def _top_level_value(
    body: bytes,
    in_string: npt.NDArray[np.bool_],
    depth: npt.NDArray[np.int32],
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
    depth: npt.NDArray[np.int32],
    start: int,
) -> tuple[bytes, MeasurementArrays] | None:
    if body[start : start + 1] != b"[" or in_string[start]:
        return None  # null (no measurements yet) or something unexpected
    closed = np.flatnonzero(depth[start:] == 1)
    if not closed.size:
        return None
    end = start + int(closed[0])  # the "]" that closes the measurements list
    region = slice(start, end + 1)
    code = raw[region]
    level = depth[region] - (depth[start] - 1)  # the level above, plus 1 (0 at the end)
    if level.max() > 4:
        return None  # a list or object inside a shot
    quote = code == _QUOTE  # no backslash, so every quote opens or closes a string
    kept = ~(in_string[region] | _SPACE[code]) | quote
    tokens = code[kept]
    # uint8 throughout: numpy looks up small-integer indices several times faster.
    classes = _CLASS[_CHAR[tokens] * 5 + level[kept].astype(np.uint8)]
    classes[np.flatnonzero(quote[kept])[1::2]] = _NAME_END
    if (
        classes.size < 2
        or classes[-1] != _LIST_END
        or not np.all(_FOLLOWS[classes[:-1] * 16 + classes[1:]])
    ):
        return None  # not the plain form (or not JSON): the ordinary parser decides
    # Positions below are in ``tokens``, where a shot of w bits is exactly "[b,b,...]".
    circuit_at = np.flatnonzero(classes == _CIRCUIT)
    keys_at = np.flatnonzero(classes == _SHOTS)
    shots_at = np.flatnonzero(classes == _SHOT)
    if not keys_at.size:
        return None  # no measurements at all: the slow way
    width_of_shot = (np.flatnonzero(classes == _SHOT_END) - shots_at) // 2
    shots_per_key = np.diff(np.searchsorted(shots_at, keys_at), append=shots_at.size)
    first_shot = np.concatenate(([0], np.cumsum(shots_per_key)[:-1]))
    widths = width_of_shot[first_shot]
    if np.any(width_of_shot != np.repeat(widths, shots_per_key)):
        return None  # shots of different widths
    circuit_of_key = np.searchsorted(circuit_at, keys_at, side="right") - 1
    names_at = np.flatnonzero(quote)  # in ``code``: two per key, in order
    bits = tokens[classes == _BIT] - _ZERO
    measurements: MeasurementArrays = [{} for _ in range(circuit_at.size)]
    offset = 0
    for k in range(keys_at.size):
        name = body[start + int(names_at[2 * k]) + 1 : start + int(names_at[2 * k + 1])]
        n_shots, width = int(shots_per_key[k]), int(widths[k])
        size = n_shots * width
        target = measurements[int(circuit_of_key[k])]
        try:
            key = name.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if key in target or _CONTROL.search(name):
            return None  # a repeated key, or a name JSON does not allow: the parser decides
        target[key] = bits[offset : offset + size].reshape(n_shots, width)
        offset += size
    return body[:start] + b"null" + body[end + 1 :], measurements
