"""IQMBackend on both APIs (respx). Invariant 3: the background result collection never dies
from one job's bad data or an unexpected exception. Invariant 8: a damaged or tampered result
handle gives a typed error, never silently wrong bits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from pytket.backends.backend import ResultHandleTypeError
from pytket.backends.resulthandle import ResultHandle
from pytket.circuit import Circuit
from respx_fixtures import FAST_POLL, FAST_RETRY, MOCK_API_URL
from test_reply_shapes import JOB, JOB2, Server, _no_ambient_credentials, router, server

from iqm_async.backend import IQMBackend
from iqm_async.errors import ConfigurationError, InvalidResponseError
from iqm_async.jobs import Job

__all__ = ["_no_ambient_credentials", "router", "server"]  # fixtures used here


@pytest.fixture
def backend(server: Server, router: respx.MockRouter) -> Iterator[IQMBackend]:
    server.mock_architecture(router)
    options = {**server.options, "retry": FAST_RETRY, "poll": FAST_POLL}
    with IQMBackend(MOCK_API_URL, client_options=options, progress=False) as made:
        yield made


def submits(server: Server, router: respx.MockRouter, *job_ids: str) -> respx.Route:
    replies = [httpx.Response(201, json=server.submit_reply(j)) for j in job_ids]
    return router.post(server.submit_path()).mock(side_effect=replies)


# X on qubit 0 then measure: every shot reads 1 on c[0], 0 on c[1].
def two_bits() -> Circuit:
    return Circuit(2, 2).X(0).measure_all()


# --- invariant 3 -------------------------------------------------------------------------------


def test_one_jobs_unexpected_error_leaves_other_jobs_and_later_calls_working(
    server: Server, router: respx.MockRouter, backend: IQMBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    submits(server, router, JOB, JOB2)
    for job_id in (JOB, JOB2):
        server.mock_job(router, job_id, b'[{"c[0]":[[1],[1]],"c[1]":[[0],[0]]}]')
    real = Job.measurement_arrays

    async def broken_for_one(self: Job, timeout: float | None = None) -> Any:
        if self.id == JOB:
            raise RuntimeError("a bug while keeping this job")
        return await real(self, timeout)

    monkeypatch.setattr(Job, "measurement_arrays", broken_for_one)
    compiled = backend.get_compiled_circuits([two_bits(), two_bits()])
    first, second = backend.process_circuits(compiled, n_shots=2, batch_size=1)
    # The broken job gets a typed error naming it and what went wrong...
    with pytest.raises(InvalidResponseError, match=rf"Job {JOB}: its result could not be read"):
        backend.get_result(first, timeout=10)
    # ...the other job, a new submission and close() go on normally.
    assert backend.get_result(second, timeout=10).get_counts() == {(1, 0): 2}
    submits(server, router, JOB2)
    (again,) = backend.process_circuits(compiled[:1], n_shots=2)
    assert backend.get_result(again, timeout=10).get_counts() == {(1, 0): 2}


@pytest.mark.parametrize(
    "measurements",
    [b'[{"c[0]":[[2],[1]],"c[1]":[[0],[0]]}]', b'[{"c[0]":[[1],[1]],"c[1]":[[0]]}]'],
    ids=["bit 2", "keys with different shots"],
)
def test_one_jobs_bad_data_leaves_other_jobs_working(
    server: Server, router: respx.MockRouter, backend: IQMBackend, measurements: bytes
) -> None:
    submits(server, router, JOB, JOB2)
    server.mock_job(router, JOB, measurements)
    server.mock_job(router, JOB2, b'[{"c[0]":[[1],[1]],"c[1]":[[0],[0]]}]')
    compiled = backend.get_compiled_circuits([two_bits(), two_bits()])
    first, second = backend.process_circuits(compiled, n_shots=2, batch_size=1)
    with pytest.raises(InvalidResponseError):
        backend.get_result(first, timeout=10)
    assert backend.get_result(second, timeout=10).get_counts() == {(1, 0): 2}


# --- invariant 8 -------------------------------------------------------------------------------


@pytest.fixture
def handles(server: Server, router: respx.MockRouter, backend: IQMBackend) -> list[ResultHandle]:
    """Two circuits in one job: circuit 0 reads c = (1, 0), circuit 1 reads c = (0, 1)."""
    submits(server, router, JOB)
    server.mock_job(
        router,
        JOB,
        b'[{"c[0]":[[1],[1]],"c[1]":[[0],[0]]},{"c[0]":[[0],[0]],"c[1]":[[1],[1]]}]',
    )
    circuits = [two_bits(), Circuit(2, 2).X(1).measure_all()]
    return backend.process_circuits(backend.get_compiled_circuits(circuits), n_shots=2)


def edit_layout(handle: ResultHandle, change: Any) -> ResultHandle:
    layout = json.loads(handle[2])
    change(layout)
    return ResultHandle(handle[0], handle[1], json.dumps(layout), handle[3])


def swap_columns(layout: dict[str, Any]) -> None:
    layout["keys"] = {"c[0]": layout["keys"]["c[1]"], "c[1]": layout["keys"]["c[0]"]}


def swap_bits(layout: dict[str, Any]) -> None:
    layout["bits"] = layout["bits"][::-1]


TAMPERED = [
    ("another job", lambda h: ResultHandle(JOB2, h[1], h[2], h[3]), "check digest"),
    ("job id not a UUID", lambda h: ResultHandle("../jobs", h[1], h[2], h[3]), "not a UUID"),
    ("another circuit", lambda h: ResultHandle(h[0], 1, h[2], h[3]), "check digest"),
    ("negative index", lambda h: ResultHandle(h[0], -1, h[2], h[3]), "circuit index -1"),
    ("columns swapped", lambda h: edit_layout(h, swap_columns), "points at the wrong bit"),
    (
        "columns swapped, no digest",
        lambda h: edit_layout(h, lambda lay: (swap_columns(lay), lay.pop("check"))),
        "points at the wrong bit",
    ),
    ("bits reordered", lambda h: edit_layout(h, swap_bits), "points at the wrong bit"),
    ("layout not JSON", lambda h: ResultHandle(h[0], h[1], h[2][:-3], h[3]), "is not JSON"),
    ("layout a list", lambda h: ResultHandle(h[0], h[1], "[]", h[3]), "is not an object"),
    (
        "post-processing changed",
        lambda h: ResultHandle(h[0], h[1], h[2], '{"bits": []}'),
        "check digest",
    ),
]


@pytest.mark.parametrize(
    ("tamper", "phrase"), [pytest.param(t, p, id=case) for case, t, p in TAMPERED]
)
def test_a_tampered_handle_is_refused(
    handles: list[ResultHandle], backend: IQMBackend, tamper: Any, phrase: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"is damaged or was changed \(.*{phrase}"):
        backend.get_result(tamper(handles[0]), timeout=10)
    # The intact handles still decode to their own circuits' bits.
    assert backend.get_result(handles[0], timeout=10).get_counts() == {(1, 0): 2}
    assert backend.get_result(handles[1], timeout=10).get_counts() == {(0, 1): 2}


def test_wrong_types_are_pytkets_typed_error(
    handles: list[ResultHandle], backend: IQMBackend
) -> None:
    with pytest.raises(ResultHandleTypeError):
        backend.get_result(ResultHandle(handles[0][0], "0", handles[0][2], handles[0][3]))


def test_handles_survive_str_and_a_handle_without_a_digest_still_reads(
    handles: list[ResultHandle], backend: IQMBackend
) -> None:
    again = ResultHandle.from_str(str(handles[1]))
    assert backend.get_result(again, timeout=10).get_counts() == {(0, 1): 2}
    older = edit_layout(handles[0], lambda lay: lay.pop("check"))  # as made before the digest
    assert backend.get_result(older, timeout=10).get_counts() == {(1, 0): 2}
