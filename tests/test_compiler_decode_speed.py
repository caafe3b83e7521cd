"""The fast decoding path (marshal + numpy) gives exactly what the plain path gives.

Correctness only, nothing is timed here (speed: ``benchmarks/decode_lists.py``).
The plain path runs for any shots that are not a ``list`` (a tuple of the same shots takes
it), so every case compares the list input with the same shots as a tuple: same bits, or the
same error message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytket.circuit import Circuit

from iqm_async.compiler import measurement_layout, to_backend_result
from iqm_async.compiler._decode import _bits_fast, _column
from iqm_async.errors import InvalidResponseError


def plain_outcome(shots: list[Any]) -> np.ndarray | str:
    """The plain path's answer for these shots: its array, or its error message."""
    try:
        return _column("c[0]", tuple(shots))
    except InvalidResponseError as exc:
        return str(exc)


def outcome(shots: list[Any]) -> np.ndarray | str:
    try:
        return _column("c[0]", shots)
    except InvalidResponseError as exc:
        return str(exc)


def assert_same(shots: list[Any]) -> None:
    ours, plain = outcome(shots), plain_outcome(shots)
    if isinstance(plain, str):
        assert ours == plain
    else:
        assert isinstance(ours, np.ndarray)
        assert ours.dtype == plain.dtype == np.uint8
        np.testing.assert_array_equal(ours, plain)


def test_fast_path_takes_plain_bit_lists() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2, size=10_000)
    shots = [[int(v)] for v in values]
    fast = _bits_fast(shots)
    assert fast is not None  # the fast path must not silently fall back for normal replies
    assert fast.dtype == np.uint8
    np.testing.assert_array_equal(fast, values)
    assert_same(shots)


def test_fast_path_handles_no_shots_and_shared_lists() -> None:
    assert _bits_fast([]) is not None
    assert_same([])
    one, zero = [1], [0]
    shared = [one, zero, one, one, zero]  # the same list objects many times
    fast = _bits_fast(shared)
    assert fast is not None
    assert fast.tolist() == [1, 0, 1, 1, 0]


@pytest.mark.parametrize(
    "shots",
    [
        [[1], [True]],  # bools are marshalled differently
        [[1.0], [0]],
        [(1,), [0]],
        [[np.int64(1)], [0]],  # marshal cannot write numpy integers
        [[2], [0]],
        [[-1], [0]],
        [[2**40], [0]],
        [[0, 1], [1]],
        [[], [1]],
        [[], [0, 1]],  # lengths that add up to one per shot
        [[[0]], [1]],
        [["1"], [0]],
        [[None], [0]],
        [[0], 1],
    ],
)
def test_anything_unusual_gets_the_plain_paths_answer(shots: list[Any]) -> None:
    assert_same(shots)


def test_bad_shots_are_refused_by_the_fast_path() -> None:
    for shots in ([[2]], [[True]], [[0, 1]], [[], [0, 1]], [[-1]], [(1,)]):
        assert _bits_fast(shots) is None


_VALUE = st.one_of(
    st.integers(-3, 3), st.booleans(), st.floats(-2, 2), st.none(), st.sampled_from(["0", "1"])
)
_SHOT = st.one_of(
    st.lists(st.sampled_from([0, 1]), min_size=1, max_size=1),  # mostly well-formed
    st.lists(_VALUE, max_size=3),
    st.tuples(_VALUE),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SHOT, max_size=12))
def test_fast_and_plain_paths_agree(shots: list[Any]) -> None:
    assert_same(shots)


def test_to_backend_result_from_lists_matches_numpy_arrays() -> None:
    rng = np.random.default_rng(11)
    circuit = Circuit(5, 5)
    for q in range(5):
        circuit.Measure(q, 4 - q)
    layout = measurement_layout(circuit)
    data = rng.integers(0, 2, size=(5, 300))
    lists = {f"c[{i}]": [[int(b)] for b in data[i]] for i in range(5)}
    arrays = {key: data[i] for i, key in enumerate(lists)}
    from_lists = to_backend_result(lists, layout).get_shots()
    np.testing.assert_array_equal(from_lists, to_backend_result(arrays, layout).get_shots())
    np.testing.assert_array_equal(from_lists, data.T)


@pytest.mark.parametrize("shots", [[[0], 1], 5, None, [[0], None]])
def test_shots_that_are_not_lists_raise_the_sdks_error(shots: Any) -> None:
    with pytest.raises(InvalidResponseError, match="not a list of shots of integers"):
        _column("c[0]", shots)
