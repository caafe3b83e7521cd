"""The byte-level measurements reader: same values as json.loads, or None (never a guess)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iqm_async.api import CocosV1, cocos
from iqm_async.api._v1_measurements import split_measurements, split_metadata
from iqm_async.errors import InvalidResponseError
from iqm_async.results import JobPhase, JobResult

METADATA = {"request": {"shots": 3, "circuits": [{"name": "c", "instructions": []}]}}


def body(measurements: Any, **extra: Any) -> bytes:
    return json.dumps(
        {"status": "ready", "measurements": measurements, "metadata": METADATA, **extra}
    ).encode()


def as_lists(arrays: list[dict[str, np.ndarray]]) -> list[dict[str, list[list[int]]]]:
    return [{key: bits.tolist() for key, bits in circuit.items()} for circuit in arrays]


MEASUREMENTS = [
    {"c[0]": [[0], [1], [1]], "c[1]": [[1], [1], [0]]},
    {"m": [[0, 1, 1], [1, 0, 0], [1, 1, 1]]},
    {"z": [[1], [0], [0]], "a": [[0], [0], [1]]},
]


@pytest.mark.parametrize("indent", [None, 2])
def test_reads_the_same_values_as_json_and_leaves_the_rest(indent: int | None) -> None:
    data = {"status": "ready", "measurements": MEASUREMENTS, "metadata": METADATA}
    split = split_measurements(json.dumps(data, indent=indent).encode())
    assert split is not None
    rest, arrays = split
    assert as_lists(arrays) == MEASUREMENTS
    assert [list(c) for c in arrays] == [list(c) for c in MEASUREMENTS]  # key order kept
    assert all(a.dtype == np.uint8 for c in arrays for a in c.values())
    assert json.loads(rest) == {**data, "measurements": None}


def test_a_nested_key_of_the_same_name_is_not_taken() -> None:
    decoy = {"measurements": [{"x": [[1]]}]}
    split = split_measurements(
        json.dumps(
            {"metadata": {**METADATA, "parameters": decoy}, "measurements": MEASUREMENTS}
        ).encode()
    )
    assert split is not None
    rest, arrays = split
    assert as_lists(arrays) == MEASUREMENTS
    assert json.loads(rest)["metadata"]["parameters"] == decoy


def test_a_result_from_the_emulator_reads_like_json() -> None:
    from iqm_async.emulator.wire import result_json

    rng = np.random.default_rng(4)
    arrays = [
        {f"c[{k}]": rng.integers(0, 2, size=(50, 1), dtype=np.int8) for k in range(3)}
        for _ in range(20)
    ]
    served = result_json({"status": "ready", "metadata": METADATA}, arrays)
    split = split_measurements(served)
    assert split is not None
    assert as_lists(split[1]) == json.loads(served)["measurements"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(body(None), id="null measurements"),
        pytest.param(json.dumps({"status": "pending"}).encode(), id="no measurements"),
        pytest.param(body(MEASUREMENTS, message='say "hi"'), id="an escape anywhere"),
        pytest.param(body([{"m": [[2]]}]), id="a value other than 0 and 1"),
        pytest.param(body([{"m": [[10]]}]), id="a multi-digit number"),
        pytest.param(body([{"m": [[True]]}]), id="a boolean"),
        pytest.param(body([{"m": [[-1]]}]), id="a negative number"),
        pytest.param(body([{"m": [[0.5]]}]), id="a float"),
        pytest.param(body([{"m": [["1"]]}]), id="a string bit"),
        pytest.param(body([{"m": [[0], [0, 1]]}]), id="shots of different widths"),
        pytest.param(body([{"m": []}]), id="no shots"),
        pytest.param(body([{"m": [[]]}]), id="an empty shot"),
        pytest.param(body([{"m": 1}]), id="a bare number"),
        pytest.param(body([{"m": [1, 0]}]), id="shots that are not lists"),
        pytest.param(body([[[0]]]), id="a circuit that is not an object"),
        pytest.param(body([]), id="no circuits"),
        pytest.param(b'{"measurements": [{"m": [[0],[1]], "m": [[1],[1]]}]}', id="a repeated key"),
        pytest.param(b'{"measurements": [{"m" [[0],[1]]}]}', id="a missing colon"),
        pytest.param(b'{"measurements": [{"m": [[0] [1]]}]}', id="a missing comma"),
        pytest.param(b'{"measurements": [{"m": [[0,,1]]}]}', id="a doubled comma"),
        pytest.param(b'{"measurements": [{"m": [[0],[1]]', id="cut short"),
        pytest.param(b'{"measurements": [{{[0]}, "a": [[1]]}]}', id="an object in a circuit"),
        pytest.param(b'{"measurements": [{"m": [[0],[1]}]]}', id="a list closed by a brace"),
        pytest.param(b'{"measurements": [{"m": [[0 1,],[1,1]]}]}', id="bits apart by a space"),
        pytest.param(b'{"measurements": [{"a": [[0,:1]], "m"[[1]]}]}', id="a colon moved"),
        pytest.param(b'{"measurements": [{"m": [[0]] "a": [[1]],}]}', id="a comma moved"),
        pytest.param(b'{"measurements": [{"m\n": [[0]]}]}', id="a control character in a key"),
        pytest.param(b'{"measurements": [{"\xff": [[0]]}]}', id="a key that is not UTF-8"),
        pytest.param(b'{"sta"us":"ready","measurements":[{"m":[[0]]}]}', id="a stray quote"),
    ],
)
def test_anything_unusual_is_left_to_the_ordinary_parser(raw: bytes) -> None:
    assert split_measurements(raw) is None


_EDITED = json.dumps(
    {"status": "ready", "measurements": MEASUREMENTS, "metadata": METADATA}, indent=1
).encode()
_EDIT = st.tuples(
    st.integers(0, len(_EDITED) - 1),
    st.sampled_from(["insert", "delete", "replace"]),
    st.sampled_from(list(b'[]{},:01" \n')),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_EDIT, min_size=1, max_size=3))
def test_an_edited_body_reads_like_json_or_is_left_alone(edits: list[tuple[int, str, int]]) -> None:
    raw = bytearray(_EDITED)
    for at, edit, char in edits:
        at = min(at, len(raw) - 1)
        if edit == "insert":
            raw.insert(at, char)
        elif edit == "delete":
            del raw[at]
        else:
            raw[at] = char
    split = split_measurements(bytes(raw))
    if split is None:
        return
    rest, arrays = split
    try:
        parsed = json.loads(raw)
    except ValueError:
        with pytest.raises(ValueError):  # the error is outside the measurements and stays
            json.loads(rest)
        return
    assert as_lists(arrays) == parsed["measurements"]
    assert [list(c) for c in arrays] == [list(c) for c in parsed["measurements"]]


def reply(content: bytes) -> httpx.Response:
    return httpx.Response(200, content=content, request=httpx.Request("GET", "http://x/jobs/1"))


@pytest.fixture
def list_conversions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records each conversion of parsed measurement lists to arrays (the ordinary way)."""
    calls: list[object] = []
    convert = cocos.measurement_arrays_of

    def counted(job_id: str, measurements: object) -> object:
        calls.append(measurements)
        return convert(job_id, measurements)  # type: ignore[arg-type]

    monkeypatch.setattr(cocos, "measurement_arrays_of", counted)
    return calls


def read_result(content: bytes) -> JobResult:
    result = CocosV1().read_result("j1", reply(content))
    assert isinstance(result, JobResult)
    return result


def test_a_result_reply_comes_with_arrays_and_unparsed_metadata(
    list_conversions: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {"status": "ready", "measurements": MEASUREMENTS, "metadata": METADATA}
    parsed: list[bytes] = []
    parse = cocos.Metadata.model_validate_json

    def counted_parse(content: bytes) -> object:
        parsed.append(content)
        return parse(content)

    monkeypatch.setattr(cocos.Metadata, "model_validate_json", counted_parse)
    result = read_result(json.dumps(data).encode())
    assert result.status.phase is JobPhase.COMPLETED and result.status.raw == "ready"
    assert as_lists(result.measurement_arrays) == MEASUREMENTS
    assert not list_conversions  # read straight into arrays, no lists parsed
    assert not parsed  # the metadata is left for later
    assert result.metadata.request is not None and result.metadata.request.shots == 3
    assert len(parsed) == 1 and json.loads(parsed[0]) == METADATA
    assert result.metadata is result.metadata and len(parsed) == 1  # parsed once


@pytest.mark.parametrize(
    "content",
    [
        body(MEASUREMENTS, message='say "hi"'),  # not the plain form: the ordinary parser reads it
        b'{"status": "ready", "metadata": {}, "measurements": [{"m": [[0]]}], '
        b'"measurements": [{"m": [[1]]}]}',  # a repeated top-level key: the last one wins
    ],
)
def test_other_result_replies_are_parsed_the_ordinary_way(
    content: bytes, list_conversions: list[object]
) -> None:
    result = read_result(content)
    assert len(list_conversions) == 1
    assert as_lists(result.measurement_arrays) == json.loads(content)["measurements"]


def test_bits_the_ordinary_parser_reads_must_still_be_bits() -> None:
    with pytest.raises(InvalidResponseError, match="measurement 'm' of circuit 0"):
        CocosV1().read_result("j1", reply(body([{"m": [[0], [1, 1]]}])))


def test_a_malformed_result_reply_is_still_an_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match="job result from http://x/jobs/1"):
        CocosV1().read_result("j1", reply(body([{"m": [[0]]}], status="ready", metadata=[])))


def test_the_metadata_object_is_cut_out_whole() -> None:
    data = {"status": "ready", "metadata": {**METADATA, "note": "{[not a bracket"}, "x": 1}
    cut = split_metadata(json.dumps(data).encode())
    assert cut is not None
    rest, metadata = cut
    assert json.loads(rest) == {**data, "metadata": {}}
    assert json.loads(metadata) == data["metadata"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps({"status": "ready"}).encode(), id="no metadata"),
        pytest.param(json.dumps({"metadata": None}).encode(), id="null metadata"),
        pytest.param(json.dumps({"metadata": [1]}).encode(), id="not an object"),
        pytest.param(json.dumps({"metadata": {"a": "\\"}}).encode(), id="an escape"),
        pytest.param(json.dumps({"x": {"metadata": {}}}).encode(), id="only nested"),
        pytest.param(b'{"metadata": {"a": 1', id="cut short"),
    ],
)
def test_metadata_that_is_not_a_plain_object_is_left_in_place(raw: bytes) -> None:
    assert split_metadata(raw) is None
