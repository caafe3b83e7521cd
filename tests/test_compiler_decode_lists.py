"""Decoding measurements given as Python lists (``JobResult.measurements``): the same bits as
from arrays, and any malformed shot is the SDK's ``InvalidResponseError``, never another
exception. Nothing is timed here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytket.circuit import Circuit

from iqm_async.compiler import measurement_layout, to_backend_result
from iqm_async.compiler._decode import _column
from iqm_async.errors import InvalidResponseError


def test_bit_lists_decode_to_their_bits() -> None:
    values = np.random.default_rng(3).integers(0, 2, size=10_000)
    column = _column("c[0]", [[int(v)] for v in values])
    assert column.dtype == np.uint8
    np.testing.assert_array_equal(column, values)
    assert _column("c[0]", []).shape == (0,)


@pytest.mark.parametrize(
    ("shots", "bits"),
    [
        ([[1], [True]], [1, 1]),
        ([(1,), [0]], [1, 0]),
        ([[np.int64(1)], [0]], [1, 0]),
        ([[1], [0], [1]], [1, 0, 1]),
    ],
)
def test_integer_like_single_bits_are_read(shots: list[Any], bits: list[int]) -> None:
    assert _column("c[0]", shots).tolist() == bits


@pytest.mark.parametrize(
    ("shots", "problem"),
    [
        ([[2], [0]], "values other than 0 and 1"),
        ([[-1], [0]], "values other than 0 and 1"),
        ([[2**40], [0]], "values other than 0 and 1"),
        ([[0.5], [0]], "values other than 0 and 1"),
        ([[float("nan")], [0]], "values other than 0 and 1"),
        ([[0, 1], [1]], "not one bit each"),
        ([[], [1]], "not one bit each"),
        ([[[0]], [1]], "not a list of shots of integers"),
        ([[None], [0]], "values other than 0 and 1"),
        ([[0], 1], "not a list of shots of integers"),
        (5, "not a list of shots of integers"),
        (None, "not a list of shots of integers"),
    ],
)
def test_malformed_shots_say_what_is_wrong(shots: Any, problem: str) -> None:
    with pytest.raises(InvalidResponseError, match=problem):
        _column("c[0]", shots)


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
def test_any_shots_give_bits_or_the_sdks_error(shots: list[Any]) -> None:
    try:
        column = _column("c[0]", shots)
    except InvalidResponseError:
        return
    assert column.dtype == np.uint8 and column.shape == (len(shots),)
    assert set(column.tolist()) <= {0, 1}
    assert all(len(shot) == 1 for shot in shots)
    # What was read is what was sent: no fraction or out-of-range value became a bit.
    assert column.tolist() == [int(float(shot[0])) for shot in shots]
    assert all(float(shot[0]) in (0.0, 1.0) for shot in shots)


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
