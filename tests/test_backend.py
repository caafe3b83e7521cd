"""IQMBackend against the emulator over real loopback HTTP, plus its pure decisions.

Includes pytket-iqm's own backend tests (rebase, default pass per level, handles and
statuses, metadata, postprocess, missing n_shots, backend info, invalid credentials), ported
to this backend and the emulator.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from emulator_fixtures import LiveEmulator
from pytket.backends import ResultHandle, StatusEnum
from pytket.backends.backend_exceptions import CircuitNotValidError
from pytket.circuit import Circuit, OpType

from iqm_async.api.cocos import job_status
from iqm_async.api.cocos_wire import Status
from iqm_async.backend import IQMBackend, backend_credentials, circuit_status_of
from iqm_async.emulator import EmulatorConfig
from iqm_async.errors import (
    AuthenticationError,
    CircuitValidationError,
    ClientClosedError,
    ConfigurationError,
    JobFailedError,
    JobTimeoutError,
)
from iqm_async.models import Metadata


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


@pytest.fixture
def backend(live_emulator: LiveEmulator) -> Iterator[IQMBackend]:
    with IQMBackend(live_emulator.url, api="cocos", progress=False) as b:
        yield b


def sample_circuit() -> Circuit:
    c = Circuit(4, 4, name="sample")
    c.H(0).CX(0, 1).CX(1, 2).Rz(0.3, 3).CX(2, 3)
    return c.measure_all()


def requests_by_route(live: LiveEmulator) -> dict[str, int]:
    return dict(live.emulator.stats()["requests_by_route"])


# --- the seed's example, as its get_metadata docstring writes it ----------------------------


def test_seed_get_metadata_example(backend: IQMBackend) -> None:
    circuit = backend.get_compiled_circuit(sample_circuit())
    n_shots = 100
    backend.run_circuit(circuit, n_shots=n_shots, timeout=30)
    handle = backend.process_circuits([circuit], n_shots=n_shots)[0]
    result = backend.get_result(handle)
    metadata = backend.get_metadata(handle)
    assert metadata.request is not None and metadata.request.qubit_mapping is not None
    physical = [qm.physical_name for qm in metadata.request.qubit_mapping]
    assert sorted(physical) == sorted(f"QB{q.index[0] + 1}" for q in circuit.qubits)
    assert sum(result.get_counts().values()) == n_shots


# --- pytket-iqm's backend tests, ported -------------------------------------------------------


def test_iqm(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    res = backend.run_circuit(c, n_shots=10, timeout=30)
    assert len(res.get_shots()) == 10
    assert sum(res.get_counts().values()) == 10


def test_handles_and_statuses(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    handles = backend.process_circuits([c, c], n_shots=5)
    assert len(handles) == 2
    for handle in handles:
        assert backend.circuit_status(handle).status in (
            StatusEnum.SUBMITTED,
            StatusEnum.COMPLETED,
        )
    results = backend.get_results(handles)
    for handle in handles:
        assert backend.circuit_status(handle).status is StatusEnum.COMPLETED
    for result in results:
        assert result.get_shots().shape == (5, c.n_bits)


def test_metadata(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    handle = backend.process_circuits([c], n_shots=5)[0]
    backend.get_result(handle)
    metadata = backend.get_metadata(handle)
    assert isinstance(metadata, Metadata)
    assert isinstance(metadata.calibration_set_id, UUID)
    assert metadata.request is not None
    assert len(metadata.request.circuits) == 1
    assert metadata.request.circuits[0].name == c.name
    assert metadata.request.calibration_set_id is None
    assert metadata.request.qubit_mapping is not None
    assert len(metadata.request.qubit_mapping) == c.n_qubits
    assert metadata.request.shots == 5


def test_missing_n_shots(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    with pytest.raises(ValueError, match="Parameter n_shots is required") as excinfo:
        backend.process_circuits([c])
    assert isinstance(excinfo.value, ConfigurationError)


def test_default_pass_per_level(backend: IQMBackend) -> None:
    for level in range(3):
        c = Circuit(3, 3)
        c.H(0).CX(0, 1).CSWAP(1, 0, 2).ZZPhase(0.84, 2, 0).measure_all()
        backend.default_compilation_pass(level).apply(c)
        for pred in backend.required_predicates:
            assert pred.verify(c), (level, pred)


def test_rebase_pass(backend: IQMBackend) -> None:
    c = Circuit(2).H(0).CX(0, 1).Rz(0.25, 1)
    backend.rebase_pass().apply(c)
    assert {cmd.op.type for cmd in c.get_commands()} <= {OpType.PhasedX, OpType.CZ}


def test_postprocess(backend: IQMBackend) -> None:
    assert backend.supports_contextual_optimisation
    c = Circuit(2, 2).Y(0).Z(1).measure_all()
    c = backend.get_compiled_circuit(c)
    h = backend.process_circuit(c, n_shots=10, postprocess=True)
    shots = backend.get_result(h).get_shots()
    assert len(shots) == 10
    assert all(list(shot) == [1, 0] for shot in shots)  # Y flips qubit 0 only


def test_backend_info(backend: IQMBackend, live_emulator: LiveEmulator) -> None:
    info = backend.backend_info
    assert info.name == "IQMBackend"
    assert info.gate_set >= {OpType.PhasedX, OpType.CZ, OpType.Measure}
    assert info.architecture is not None and len(info.architecture.nodes) == 20


def test_invalid_credentials(live_emulator_factory: object) -> None:
    start = live_emulator_factory  # type: ignore[assignment]
    live = start(EmulatorConfig(seed=1, parallel=True, job_seconds=0.0, require_auth=True))
    # Refused at construction, which logs in and fetches the architecture (as pytket-iqm).
    with pytest.raises(AuthenticationError, match="refused the login of user 'invalid'"):
        IQMBackend(
            live.url, api="cocos", auth_server_url=live.url, username="invalid", password="x"
        )


# --- what this backend adds -------------------------------------------------------------------


def test_init_fetches_the_architecture_once(live_emulator: LiveEmulator) -> None:
    live_emulator.emulator.reset_stats()
    with IQMBackend(live_emulator.url, api="cocos") as b:
        dqa_route = "GET /api/v1/calibration/{calibration_set_id}/gates"
        metrics_route = "GET /calibration/metrics/{calibration_set_id}"
        assert requests_by_route(live_emulator) == {dqa_route: 1, metrics_route: 1}
        _ = b.backend_info, b.required_predicates, b.quality_metrics
        assert live_emulator.emulator.stats()["requests_total"] == 2


def test_architecture_is_fetched_once(live_emulator: LiveEmulator) -> None:
    live_emulator.emulator.reset_stats()
    with IQMBackend(live_emulator.url, api="cocos", progress=False) as b:
        c = b.get_compiled_circuit(sample_circuit())
        for _ in range(3):
            b.get_result(b.process_circuits([c], n_shots=3)[0])
        routes = requests_by_route(live_emulator)
    dqa_gets = sum(n for r, n in routes.items() if "/calibration/" in r and "metrics" not in r)
    assert dqa_gets == 1
    # The quality metrics (for noise-aware placement) are asked for once too.
    assert sum(n for r, n in routes.items() if "metrics" in r) == 1


def test_batching_packs_circuits_into_few_jobs(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, api="cocos", progress=False, batch_size=100) as b:
        c = b.get_compiled_circuit(sample_circuit())
        bell = b.get_compiled_circuit(Circuit(2, 2).H(0).CX(0, 1).measure_all())
        live_emulator.emulator.reset_stats()
        handles = b.process_circuits([c] * 150 + [bell] * 10, n_shots=20)
        results = b.get_results(handles)
        routes = requests_by_route(live_emulator)
    # 150 alike -> 2 jobs, 10 Bell circuits measure other qubits -> 1 job.
    assert routes.get("POST /jobs") == 3
    assert len({h[0] for h in handles}) == 3
    assert all(sum(r.get_counts().values()) == 20 for r in results)
    for counts in (r.get_counts() for r in results[150:]):
        assert set(counts) <= {(0, 0), (1, 1)}
    assert sum(routes.values()) <= 0.1 * len(handles)


def test_different_shots_go_to_different_jobs(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    handles = backend.process_circuits([c, c, c], n_shots=[5, 7, 5])
    assert handles[0][0] == handles[2][0] != handles[1][0]
    assert [len(r.get_shots()) for r in backend.get_results(handles)] == [5, 7, 5]


def test_handles_persist_across_backends_and_processes(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, api="cocos", progress=False) as first:
        c = first.get_compiled_circuit(sample_circuit())
        saved = [str(h) for h in first.process_circuits([c, c], n_shots=8)]
    with IQMBackend(live_emulator.url, api="cocos", progress=False) as second:
        handles = [ResultHandle.from_str(s) for s in saved]
        assert [len(second.get_result(h).get_shots()) for h in handles] == [8, 8]
        meta = second.get_metadata(handles[0])
        assert meta.request is not None and meta.request.shots == 8
    script = (
        "import json, sys\n"
        "from pytket.backends import ResultHandle\n"
        "from iqm_async.backend import IQMBackend\n"
        "url, saved = sys.argv[1], json.loads(sys.argv[2])\n"
        "with IQMBackend(url, api='cocos', progress=False) as b:\n"
        "    hs = [ResultHandle.from_str(s) for s in saved]\n"
        "    print(json.dumps([sum(b.get_result(h).get_counts().values()) for h in hs]))\n"
        "    print(b.get_metadata(hs[0]).request.qubit_mapping[0].physical_name)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, live_emulator.url, json.dumps(saved)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert json.loads(out[0]) == [8, 8]
    assert out[1].startswith("QB")


def test_invalid_circuit_is_rejected_before_any_request(backend: IQMBackend) -> None:
    _ = backend.backend_info  # fetch the architecture first
    c = Circuit(2, 2).H(0).CX(0, 1).measure_all()  # not compiled: H and CX are not native
    with pytest.raises(CircuitValidationError, match="GateSetPredicate") as info:
        backend.process_circuits([c], n_shots=10)
    assert isinstance(info.value, CircuitNotValidError)  # what pytket code catches


def test_circuit_without_measurement_is_rejected(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(Circuit(2).H(0).CX(0, 1))
    with pytest.raises(CircuitValidationError, match="measures nothing"):
        backend.process_circuits([c], n_shots=10)


def test_failed_job_is_a_typed_error_and_an_error_status(live_emulator_factory: object) -> None:
    start = live_emulator_factory  # type: ignore[assignment]
    live = start(EmulatorConfig(seed=2, parallel=True, job_seconds=0.0, job_fail_rate=1.0))
    with IQMBackend(live.url, api="cocos", progress=False) as b:
        c = b.get_compiled_circuit(sample_circuit())
        handle = b.process_circuits([c], n_shots=5)[0]
        with pytest.raises(JobFailedError):
            b.get_result(handle)
        status = b.circuit_status(handle)
    assert status.status is StatusEnum.ERROR and status.message


def test_timeout_then_cancel(live_emulator_factory: object) -> None:
    start = live_emulator_factory  # type: ignore[assignment]
    live = start(EmulatorConfig(seed=3, job_seconds=30.0))
    with IQMBackend(live.url, api="cocos", progress=False) as b:
        c = b.get_compiled_circuit(sample_circuit())
        handle = b.process_circuits([c], n_shots=5)[0]
        with pytest.raises(JobTimeoutError):
            b.get_result(handle, timeout=0.3)
        b.cancel(handle)
        assert b.circuit_status(handle).status is StatusEnum.CANCELLED


def test_many_threads_share_one_backend(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())
    counts: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            hs = backend.process_circuits([c] * 5, n_shots=4)
            counts.extend(sum(r.get_counts().values()) for r in backend.get_results(hs))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert counts == [4] * 40


def test_called_from_a_worker_thread_of_an_asyncio_program(backend: IQMBackend) -> None:
    c = backend.get_compiled_circuit(sample_circuit())

    async def program() -> int:
        handles = await asyncio.to_thread(backend.process_circuits, [c], 6)
        results = await asyncio.to_thread(backend.get_results, handles)
        return sum(results[0].get_counts().values())

    assert asyncio.run(program()) == 6


def test_works_while_a_loop_runs_in_the_calling_thread(backend: IQMBackend) -> None:
    """As in Jupyter: the caller's thread has a running event loop."""
    c = backend.get_compiled_circuit(sample_circuit())

    async def cell() -> int:
        return sum(backend.run_circuit(c, n_shots=3).get_counts().values())

    assert asyncio.run(cell()) == 3


def test_use_after_close_is_an_error(live_emulator: LiveEmulator) -> None:
    b = IQMBackend(live_emulator.url, api="cocos")
    _ = b.backend_info
    b.close()
    b.close()  # idempotent
    with pytest.raises(ClientClosedError, match="closed") as info:
        b.circuit_status(ResultHandle(str(UUID(int=1)), 0, "{}", "null"))
    assert isinstance(info.value, RuntimeError) and not isinstance(info.value, ValueError)


def test_bad_batch_size_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        IQMBackend("http://127.0.0.1:1", batch_size=0)


# --- pure decisions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.PENDING_COMPILATION, StatusEnum.SUBMITTED),
        (Status.RECEIVED, StatusEnum.SUBMITTED),
        (Status.PENDING_EXECUTION, StatusEnum.SUBMITTED),
        (Status.READY, StatusEnum.COMPLETED),
        (Status.FAILED, StatusEnum.ERROR),
        (Status.ABORTED, StatusEnum.CANCELLED),
        (Status.DELETED, StatusEnum.CANCELLED),
        (Status.PENDING_DELETION, StatusEnum.CANCELLED),
        (Status.DELETION_FAILED, StatusEnum.ERROR),
        (Status.UNKNOWN, StatusEnum.SUBMITTED),
    ],
)
def test_circuit_status_of(status: Status, expected: StatusEnum) -> None:
    assert circuit_status_of(job_status(status, status.value, "msg", ())).status is expected


def test_failed_status_carries_the_server_message() -> None:
    failed = job_status(Status.FAILED, "failed", "QB3 is broken", ())
    assert circuit_status_of(failed).message == "QB3 is broken"


def test_unfinished_status_without_a_message_shows_the_server_word() -> None:
    running = job_status(Status.PENDING_EXECUTION, "pending execution", None, ())
    assert circuit_status_of(running).message == "running (pending execution)"


def _creds(env: dict[str, str], **kwargs: str) -> object:
    args = dict.fromkeys(("token", "tokens_file", "auth_server_url", "username", "password"))
    args.update(kwargs)
    return backend_credentials(env=env, **args)  # type: ignore[arg-type]


def test_credentials_tokens_file_env_overrides_arguments(tmp_path: Path) -> None:
    creds = _creds({"IQM_TOKENS_FILE": "/t.json", "IQM_TOKEN": "x"}, username="u")
    assert creds is not None and creds.kind == "tokens_file"  # type: ignore[attr-defined]


def test_credentials_arguments_beat_environment() -> None:
    creds = _creds({"IQM_TOKEN": "from-env"}, token="from-arg")
    assert creds.token == "from-arg"  # type: ignore[attr-defined]


def test_credentials_config_file_beats_environment() -> None:
    from iqm_async.config import set_iqm_config

    set_iqm_config(auth_server_url="https://auth", username="cfg-user", password="cfg-pw")
    creds = _creds({"IQM_TOKEN": "from-env"})
    assert creds.kind == "auth_server" and creds.username == "cfg-user"  # type: ignore[attr-defined]


def test_credentials_environment_last() -> None:
    creds = _creds({"IQM_TOKEN": "from-env"})
    assert creds.kind == "token" and creds.source == "environment"  # type: ignore[attr-defined]
    assert _creds({}) is None


def test_credentials_incomplete_arguments_are_named() -> None:
    with pytest.raises(ConfigurationError, match="username="):
        _creds({}, username="u")


def test_results_that_arrived_are_kept_when_the_wait_times_out(
    live_emulator_factory: object,
) -> None:
    start = live_emulator_factory  # type: ignore[assignment]
    live = start(EmulatorConfig(seed=4, job_seconds=1.0))  # one QPU: job 2 ends 1 s after job 1
    with IQMBackend(live.url, api="cocos", progress=False, batch_size=1) as b:
        c = b.get_compiled_circuit(sample_circuit())
        first, second = b.process_circuits([c, c], n_shots=5)
        with pytest.raises(JobTimeoutError):
            b.get_results([first, second], timeout=1.6)
        fetched = requests_by_route(live).get("GET /jobs/{job_id}", 0)
        assert len(b.get_result(first, timeout=0.1).get_shots()) == 5  # no new wait, no fetch
        assert requests_by_route(live).get("GET /jobs/{job_id}", 0) == fetched
        assert len(b.get_result(second, timeout=30).get_shots()) == 5


def test_jobs_sent_before_a_bad_circuit_keep_their_handles(backend: IQMBackend) -> None:
    """Full jobs are sent while later circuits are translated: if a later circuit cannot be
    translated, the jobs already sent are reported with their handles, never lost."""
    from iqm_async.errors import PartialSubmissionError

    good = backend.get_compiled_circuit(sample_circuit())
    bad = Circuit(2, 2).H(0).measure_all()  # H is not native; valid_check=False lets it through
    with pytest.raises(PartialSubmissionError) as excinfo:
        backend.process_circuits([good, good, bad], n_shots=5, valid_check=False, batch_size=2)
    handles = excinfo.value.handles
    assert handles[2] is None and handles[0] is not None and handles[1] is not None
    assert isinstance(excinfo.value.errors[0], CircuitValidationError)
    assert [len(r.get_shots()) for r in backend.get_results(handles[:2])] == [5, 5]


def test_a_bad_first_circuit_sends_nothing(
    backend: IQMBackend, live_emulator: LiveEmulator
) -> None:
    bad = Circuit(2, 2).H(0).measure_all()
    _ = backend.backend_info
    live_emulator.emulator.reset_stats()
    with pytest.raises(CircuitValidationError, match="not a device node"):
        backend.process_circuits([bad], n_shots=5, valid_check=False)
    assert live_emulator.emulator.stats()["requests_total"] == 0


def test_results_are_collected_in_the_background_from_submission(
    live_emulator: LiveEmulator,
) -> None:
    """Nobody waits yet, but each job's result is fetched as soon as it is ready, so
    get_results then needs no request at all."""
    import time

    with IQMBackend(live_emulator.url, api="cocos", progress=False, batch_size=2) as b:
        c = b.get_compiled_circuit(sample_circuit())
        live_emulator.emulator.reset_stats()
        handles = b.process_circuits([c] * 6, n_shots=5)  # 3 jobs
        deadline = time.monotonic() + 20
        while requests_by_route(live_emulator).get("GET /jobs/{job_id}", 0) < 3:
            assert time.monotonic() < deadline, requests_by_route(live_emulator)
            time.sleep(0.02)
        before = live_emulator.emulator.stats()["requests_total"]
        results = b.get_results(handles)
        assert live_emulator.emulator.stats()["requests_total"] == before
        assert b.circuit_status(handles[0]).status is StatusEnum.COMPLETED
        assert live_emulator.emulator.stats()["requests_total"] == before
    assert [len(r.get_shots()) for r in results] == [5] * 6


def test_closing_stops_background_collection(live_emulator_factory: object) -> None:
    start = live_emulator_factory  # type: ignore[assignment]
    live = start(EmulatorConfig(seed=4, job_seconds=30.0))
    b = IQMBackend(live.url, api="cocos", progress=False)
    c = b.get_compiled_circuit(sample_circuit())
    b.process_circuits([c], n_shots=5)
    b.close()  # returns promptly although the job runs for 30 s
    polls = live.emulator.stats()["requests_total"]
    threading.Event().wait(0.3)
    assert live.emulator.stats()["requests_total"] == polls
