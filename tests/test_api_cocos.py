"""The V1 "CoCoS" API variant: its status words, routes, request bodies and how its replies
read (pure: hand-made ``httpx.Response`` objects, no event loop)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from iqm_async.api import API_NAMES, CocosV1, Route, read_submit_reply, resolve_api
from iqm_async.api.cocos_wire import Status
from iqm_async.errors import ConfigurationError, InvalidResponseError, SubmissionUncertainError
from iqm_async.models import Circuit, Instruction
from iqm_async.results import CircuitCounts, JobPhase, JobResult, JobStatus

DATA = Path(__file__).parent / "data"
API = CocosV1()
JOB_ID = "6f1d2c8e-0a55-4c1b-9a8e-2b7f6d3e9c10"


def reply(
    body: Any = None, *, content: bytes | None = None, path: str = f"jobs/{JOB_ID}"
) -> httpx.Response:
    request = httpx.Request("GET", f"https://iqm.test/{path}")
    if content is not None:
        return httpx.Response(200, content=content, request=request)
    return httpx.Response(200, json=body, request=request)


# --- status words -------------------------------------------------------------------------------

PHASE_OF_WORD = {
    "pending": JobPhase.QUEUED,
    "received": JobPhase.QUEUED,
    "accepted": JobPhase.QUEUED,
    "pending compilation": JobPhase.QUEUED,
    "processing": JobPhase.RUNNING,
    "compiled": JobPhase.RUNNING,
    "pending execution": JobPhase.RUNNING,
    "unknown": JobPhase.RUNNING,
    "ready": JobPhase.COMPLETED,
    "failed": JobPhase.FAILED,
    "deletion failed": JobPhase.FAILED,
    "aborted": JobPhase.CANCELLED,
    "pending deletion": JobPhase.CANCELLED,
    "deleted": JobPhase.CANCELLED,
}


def test_the_table_covers_every_v1_word() -> None:
    assert set(PHASE_OF_WORD) == {status.value for status in Status}


@pytest.mark.parametrize(("word", "phase"), PHASE_OF_WORD.items())
def test_every_v1_word_reads_as_its_phase(word: str, phase: JobPhase) -> None:
    status = API.read_status(reply({"status": word}, path=f"jobs/{JOB_ID}/status"))
    assert status == JobStatus(phase, word)
    assert status.done is phase.is_terminal


def test_a_word_this_version_does_not_know_is_running_and_kept() -> None:
    status = API.read_status(reply({"status": "validation_started"}))
    assert status.phase is JobPhase.RUNNING and not status.done
    assert status.raw == "validation_started"  # the server's own word, for messages


def test_a_status_carries_message_and_warnings() -> None:
    body = {"status": "failed", "message": "QB3 broke", "warnings": ["old calibration"]}
    status = API.read_status(reply(body))
    assert status == JobStatus(
        JobPhase.FAILED, "failed", "QB3 broke", warnings=("old calibration",)
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"<html>login</html>", "job status from https://iqm.test/.*is not JSON"),
        (b'{"message": "no status"}', "not what the IQM protocol says.*status"),
        (b'["ready"]', "not what the IQM protocol says"),
        (b"", "not JSON"),
    ],
)
def test_a_malformed_status_is_an_invalid_response(content: bytes, says: str) -> None:
    with pytest.raises(InvalidResponseError, match=says):
        API.read_status(reply(content=content))


# --- results ------------------------------------------------------------------------------------


def test_a_ready_result_reads_as_a_job_result() -> None:
    content = (DATA / "run_result_ready.json").read_bytes()
    result = API.read_result(JOB_ID, reply(content=content))
    assert isinstance(result, JobResult)
    assert result.job_id == JOB_ID
    assert result.status.phase is JobPhase.COMPLETED and result.status.raw == "ready"
    expected = json.loads(content)
    assert result.measurements == expected["measurements"]
    assert result.warnings == tuple(expected["warnings"])
    assert str(result.metadata.calibration_set_id) == expected["metadata"]["calibration_set_id"]


@pytest.mark.parametrize(
    ("body", "phase"),
    [
        ({"status": "failed", "message": "QB3 broke", "metadata": {}}, JobPhase.FAILED),
        ({"status": "deletion failed", "metadata": {}}, JobPhase.FAILED),
        ({"status": "pending execution", "metadata": {}}, JobPhase.RUNNING),  # result lags
    ],
)
def test_a_result_without_results_reads_as_its_status(
    body: dict[str, Any], phase: JobPhase
) -> None:
    status = API.read_result(JOB_ID, reply(body))
    assert status == JobStatus(phase, body["status"], body.get("message"))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"status": "ready", "metadata": {}}, f"result of job {JOB_ID} says 'ready' but has no"),
        ({"status": "ready", "measurements": [{"m": [[0], [1, 1]]}], "metadata": {}}, "'m'"),
        ({"status": "ready", "measurements": [{"m": [[0]]}]}, "metadata"),
        ({"measurements": [{"m": [[0]]}], "metadata": {}}, "status"),
    ],
    ids=["no measurements", "ragged shots", "no metadata", "no status"],
)
def test_a_malformed_result_is_an_invalid_response(body: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidResponseError, match=says):
        API.read_result(JOB_ID, reply(body))


def test_a_result_that_is_not_json_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponseError, match=r"job result .* is not JSON"):
        API.read_result(JOB_ID, reply(content=b"Bad gateway"))


# --- counts and job ids -------------------------------------------------------------------------


def test_counts_read_as_one_histogram_per_circuit() -> None:
    counts = API.read_counts(JOB_ID, reply(content=(DATA / "run_counts.json").read_bytes()))
    assert counts == [CircuitCounts(("m_a", "m_b"), {"010": 12, "101": 9})]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"status": "ready"}', f"counts of job {JOB_ID} are missing"),
        (b'{"status": "ready", "counts_batch": [{"counts": {}}]}', "measurement_keys"),
        (b"nope", "not JSON"),
    ],
)
def test_malformed_counts_are_an_invalid_response(content: bytes, says: str) -> None:
    with pytest.raises(InvalidResponseError, match=says):
        API.read_counts(JOB_ID, reply(content=content))


def test_the_job_id_of_a_submit_reply() -> None:
    assert API.read_job_id(reply({"id": JOB_ID})) == JOB_ID
    assert API.read_job_id(reply({"id": JOB_ID.upper(), "extra": 1})) == JOB_ID


@pytest.mark.parametrize(
    "content",
    [b'{"job": "x"}', b'{"id": "not-a-uuid"}', b'{"id": 7}', b'["id"]', b"<html>", b""],
)
def test_a_submit_reply_without_a_job_id_says_the_job_may_exist(content: bytes) -> None:
    with pytest.raises(InvalidResponseError, match=r"no job id"):
        API.read_job_id(reply(content=content))
    # What the client raises: the server said yes, so the job may exist.
    with pytest.raises(SubmissionUncertainError, match=r"no job id.*may have created the job"):
        read_submit_reply(API, reply(content=content))


# --- requests -----------------------------------------------------------------------------------

CIRCUITS = [
    Circuit(
        name=f"c{n}",
        instructions=(
            Instruction(name="prx", qubits=("q0",), args={"angle_t": 0.5, "phase_t": 0.0}),
            Instruction(name="measure", qubits=("q0",), args={"key": "m"}),
        ),
    )
    for n in range(3)
]


@pytest.mark.parametrize(
    "arguments",
    [
        {"shots": 5, "qubit_mapping": None, "calibration_set_id": None},
        {"shots": 1, "qubit_mapping": {"q0": "QB3"}, "calibration_set_id": uuid.uuid4()},
        {"shots": 9, "qubit_mapping": None, "calibration_set_id": str(uuid.uuid4())},
    ],
)
def test_encode_run_json_equals_encode_run(arguments: dict[str, Any]) -> None:
    built = API.encode_run(CIRCUITS, options={}, **arguments)
    written = API.encode_run_json([c.to_wire_json().decode() for c in CIRCUITS], **arguments)
    assert json.loads(written) == json.loads(built)  # field order may differ


def test_encode_run_takes_the_run_options() -> None:
    body = json.loads(
        API.encode_run(
            CIRCUITS[0],
            shots=2,
            qubit_mapping=None,
            calibration_set_id=None,
            options={"heralding_mode": "zeros"},
        )
    )
    assert body["heralding_mode"] == "zeros" and len(body["circuits"]) == 1
    assert "heralding_mode" in API.run_options and "shots" not in API.run_options
    with pytest.raises(ConfigurationError, match="bogus"):
        API.encode_run(
            CIRCUITS, shots=2, qubit_mapping=None, calibration_set_id=None, options={"bogus": 1}
        )


# --- routes and the variant's name ---------------------------------------------------------------


def test_routes() -> None:
    assert API.submit_route() == Route("POST", "jobs", "submit")
    assert API.status_route(JOB_ID) == Route("GET", f"jobs/{JOB_ID}/status", "status")
    assert API.counts_route(JOB_ID) == Route("GET", f"jobs/{JOB_ID}/counts", "counts")
    assert API.cancel_route(JOB_ID) == Route("POST", f"jobs/{JOB_ID}/abort", "abort")
    assert API.delete_route(JOB_ID) == Route("DELETE", f"jobs/{JOB_ID}", "delete")
    assert API.architecture_route() == Route("GET", "quantum-architecture", "architecture")
    assert API.dynamic_architecture_route("default") == Route(
        "GET", "api/v1/calibration/default/gates", "architecture"
    )


@pytest.mark.parametrize(("word", "phase"), PHASE_OF_WORD.items())
def test_a_result_is_fetched_unless_the_job_was_cancelled(word: str, phase: JobPhase) -> None:
    route = API.result_route(JOB_ID, JobStatus(phase, word))
    if phase is JobPhase.CANCELLED:
        assert route is None  # nothing to fetch
    else:
        assert route == Route("GET", f"jobs/{JOB_ID}", "result")


def test_resolve_api() -> None:
    url = "https://cocos.example.com/garnet"
    assert API_NAMES == ("auto", "cocos", "iqm-server")
    assert isinstance(resolve_api("cocos", url=url), CocosV1)
    assert resolve_api(API, url=url) is API
    with pytest.raises(ConfigurationError, match="api must be one of"):
        resolve_api("cocos-v9", url=url)
