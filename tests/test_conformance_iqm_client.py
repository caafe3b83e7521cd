"""Conformance: the official iqm-client 22.x runs its normal V1 flow against the emulator.

Each test drives the unmodified ``IQMClient`` (default variant V1, plain ``requests``) at a real
loopback emulator. The only warning allowed is iqm-client's own DeprecationWarning for the V1
variant, which it raises client-side whatever the server says; in particular no
version-incompatibility warning may appear (``info/client-libraries`` must satisfy it).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

iqm_client = pytest.importorskip("iqm.iqm_client")
from emulator_fixtures import LiveEmulator  # noqa: E402
from iqm.iqm_client import (  # noqa: E402
    Circuit,
    CircuitExecutionError,
    ClientAuthenticationError,
    Instruction,
    IQMClient,
    JobAbortionError,
    Status,
)

from iqm_async.emulator import EmulatorConfig  # noqa: E402

USERNAME = "alice"
PASSWORD = "wonderland-1"


def make_client(url: str, **kwargs: Any) -> IQMClient:
    """An IQMClient built with only the V1 deprecation warning allowed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = IQMClient(url, **kwargs)
    unexpected = [str(w.message) for w in caught if "V1 API is deprecated" not in str(w.message)]
    assert unexpected == []
    return client


def bell(name: str, a: str = "q0", b: str = "q1") -> Circuit:
    return Circuit(
        name=name,
        instructions=(
            Instruction(name="prx", qubits=(a,), args={"angle_t": 0.25, "phase_t": 0.25}),
            Instruction(name="prx", qubits=(b,), args={"angle_t": 0.25, "phase_t": 0.25}),
            Instruction(name="cz", qubits=(a, b), args={}),
            Instruction(name="prx", qubits=(b,), args={"angle_t": -0.25, "phase_t": 0.25}),
            Instruction(name="measure", qubits=(a,), args={"key": "m0"}),
            Instruction(name="measure", qubits=(b,), args={"key": "m1"}),
        ),
    )


def flip(name: str) -> Circuit:
    """q0 flipped to |1>, q1 left at |0>: every shot reads (1, 0)."""
    return Circuit(
        name=name,
        instructions=(
            Instruction(name="prx", qubits=("q0",), args={"angle_t": 0.5, "phase_t": 0.0}),
            Instruction(name="measure", qubits=("q0",), args={"key": "m0"}),
            Instruction(name="measure", qubits=("q1",), args={"key": "m1"}),
        ),
    )


MAPPING = {"q0": "QB4", "q1": "QB9"}  # a coupled pair on Garnet


@pytest.fixture
def client(live_emulator: LiveEmulator) -> Iterator[IQMClient]:
    yield make_client(live_emulator.url)


def test_gets_dynamic_architecture(client: IQMClient, live_emulator: LiveEmulator) -> None:
    dqa = client.get_dynamic_quantum_architecture()
    assert dqa.calibration_set_id == UUID(live_emulator.emulator.architecture.calibration_set_id)
    assert len(dqa.qubits) == 20
    assert {"prx", "cz", "measure"} <= set(dqa.gates)
    cz_pairs = {frozenset(locus) for locus in dqa.gates["cz"].loci}
    assert len(cz_pairs) == 30 and frozenset({"QB4", "QB9"}) in cz_pairs
    # The same set by its id is served too (iqm-client caches by id).
    assert client.get_dynamic_quantum_architecture(dqa.calibration_set_id) == dqa
    assert client.get_quantum_architecture().qubits[:2] == ["QB1", "QB2"]


def test_batch_of_three_with_qubit_mapping(client: IQMClient) -> None:
    circuits = [bell("bell-a"), flip("flip"), bell("bell-b")]
    job_id = client.submit_circuits(circuits, qubit_mapping=MAPPING, shots=500)
    result = client.wait_for_results(job_id, timeout_secs=30)
    assert result.status == Status.READY
    assert result.measurements is not None and len(result.measurements) == 3
    for index in (0, 2):
        m = result.measurements[index]
        shots = list(zip(m["m0"], m["m1"], strict=True))
        assert len(shots) == 500
        assert {(a[0], b[0]) for a, b in shots} <= {(0, 0), (1, 1)}
    flipped = result.measurements[1]
    assert list(flipped) == ["m0", "m1"]  # keys in measure order
    assert all(bits == [1] for bits in flipped["m0"]) and all(b == [0] for b in flipped["m1"])


def test_metadata_has_qubit_mapping(client: IQMClient) -> None:
    job_id = client.submit_circuits([bell("bell")], qubit_mapping=MAPPING, shots=10)
    result = client.wait_for_results(job_id, timeout_secs=30)
    request = result.metadata.request
    assert request is not None
    echoed = {m.logical_name: m.physical_name for m in request.qubit_mapping or []}
    assert echoed == MAPPING
    assert request.shots == 10
    assert result.metadata.calibration_set_id is not None
    assert result.metadata.timestamps is not None and "execution_end" in result.metadata.timestamps


def test_counts(client: IQMClient) -> None:
    job_id = client.submit_circuits([bell("bell"), flip("flip")], qubit_mapping=MAPPING, shots=400)
    client.wait_for_results(job_id, timeout_secs=30)
    counts = client.get_run_counts(job_id)
    assert counts.status == Status.READY and counts.counts_batch is not None
    bell_counts, flip_counts = counts.counts_batch
    assert bell_counts.measurement_keys == ["m0", "m1"]
    assert set(bell_counts.counts) <= {"00", "11"} and sum(bell_counts.counts.values()) == 400
    assert flip_counts.counts == {"10": 400}


def test_abort_pending_job(live_emulator_factory: Any) -> None:
    # One QPU and 30 s per job: the job is certainly pending when the abort arrives.
    live = live_emulator_factory(EmulatorConfig(seed=7, job_seconds=30.0))
    client = make_client(live.url)
    job_id = client.submit_circuits([bell("bell")], qubit_mapping=MAPPING, shots=100)
    assert client.get_run_status(job_id).status in (
        Status.PENDING_COMPILATION,
        Status.PENDING_EXECUTION,
    )
    client.abort_job(job_id)
    assert client.get_run_status(job_id).status == Status.ABORTED
    assert client.get_run(job_id).status == Status.ABORTED
    with pytest.raises(JobAbortionError):  # a finished job cannot be aborted again
        client.abort_job(job_id)


def test_failed_job_raises(live_emulator_factory: Any) -> None:
    live = live_emulator_factory(EmulatorConfig(parallel=True, job_seconds=0, job_fail_rate=1.0))
    client = make_client(live.url)
    job_id = client.submit_circuits([bell("bell")], qubit_mapping=MAPPING, shots=10)
    with pytest.raises(CircuitExecutionError, match="emulated failure"):
        client.wait_for_results(job_id, timeout_secs=30)


def test_auth_with_username_and_password(live_emulator_factory: Any) -> None:
    config = EmulatorConfig(
        parallel=True, job_seconds=0, require_auth=True, username=USERNAME, password=PASSWORD
    )
    live = live_emulator_factory(config)
    client = make_client(live.url, auth_server_url=live.url, username=USERNAME, password=PASSWORD)
    client.get_dynamic_quantum_architecture()
    job_id = client.submit_circuits([bell("bell")], qubit_mapping=MAPPING, shots=20)
    assert client.wait_for_results(job_id, timeout_secs=30).status == Status.READY
    stats = live.emulator.stats()
    assert stats["token_requests"]["password"] == 1  # one login, the token reused after
    assert stats["responses_by_status"].get("401", 0) == 0
    assert client.close_auth_session() is True
    assert live.emulator.stats()["logouts"] == 1

    anonymous = make_client(live.url)
    with pytest.raises(ClientAuthenticationError, match="Not authenticated"):
        anonymous.get_dynamic_quantum_architecture()
    # Construction already needs a token (for info/client-libraries): the refusal surfaces
    # as iqm-client's "could not verify" warning, then as an error on the first real call.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrong = IQMClient(live.url, auth_server_url=live.url, username=USERNAME, password="no")
    assert any("Could not verify" in str(w.message) for w in caught)
    with pytest.raises(ClientAuthenticationError):
        wrong.get_dynamic_quantum_architecture()
