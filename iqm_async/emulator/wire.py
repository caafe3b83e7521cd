"""Fast JSON for measurement results (no I/O).

``json.dumps`` of 100,000 shots x 20 bits as nested lists takes about a second of event-loop
time; writing the fixed-width text of each shot with numpy takes milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["bits_json", "counts_of", "measurements_json", "result_json"]

Bits = npt.NDArray[np.int8]


def bits_json(bits: Bits) -> bytes:
    """``[[b, b, ...], ...]`` for a ``shots x width`` array of 0/1 values."""
    shots, width = bits.shape
    if shots == 0:
        return b"[]"
    if width == 0:
        return b"[" + b",".join([b"[]"] * shots) + b"]"
    row = np.empty((shots, 2 * width + 2), dtype=np.uint8)
    row[:, 0] = ord("[")
    row[:, 1 : 2 * width : 2] = bits + ord("0")
    row[:, 2 : 2 * width : 2] = ord(",")
    row[:, 2 * width] = ord("]")
    row[:, 2 * width + 1] = ord(",")
    return b"[" + row.tobytes()[:-1] + b"]"


def measurements_json(batch: Sequence[dict[str, Bits]]) -> bytes:
    """``[{key: [[bit, ...] per shot]} per circuit]``."""
    circuits = [
        b"{" + b",".join(json.dumps(k).encode() + b":" + bits_json(v) for k, v in c.items()) + b"}"
        for c in batch
    ]
    return b"[" + b",".join(circuits) + b"]"


def result_json(body: dict[str, Any], measurements: Sequence[dict[str, Bits]] | None) -> bytes:
    """The JSON of ``body`` with ``"measurements"`` inserted right after ``"status"``."""
    rest = json.dumps(body, separators=(",", ":")).encode()
    if measurements is None:
        return rest
    status = json.dumps(body["status"]).encode()
    tail = rest[len(b'{"status":') + len(status) :]  # "," + the other fields, or "}"
    return b'{"status":' + status + b',"measurements":' + measurements_json(measurements) + tail


def counts_of(keys: list[str], results: dict[str, Bits]) -> dict[str, Any]:
    """Histogram of one circuit: bits concatenated in ``keys`` order, then qubit order."""
    if not keys:
        return {"measurement_keys": [], "counts": {}}
    matrix = np.concatenate([results[key] for key in keys], axis=1).astype(np.uint8)
    width = matrix.shape[1]
    text = np.ascontiguousarray(matrix + ord("0")).view(f"S{width}").reshape(-1)
    values, counts = np.unique(text, return_counts=True)
    return {
        "measurement_keys": keys,
        "counts": {v.decode(): int(c) for v, c in zip(values, counts, strict=True)},
    }
