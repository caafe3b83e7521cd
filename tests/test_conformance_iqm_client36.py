"""Conformance: the official iqm-client 36 runs its normal flow against the emulator.

iqm-client 36 speaks only the IQM Server API v1 and cannot share this environment with
pytket-iqm (which pins iqm-client 22), so each test runs a small script with the Python of a
cached side virtualenv (``iqm36_python``, see ``side_env.py``) against a real loopback emulator
started here. The script reads its parameters as JSON on stdin (tokens stay out of the command
line) and prints one JSON object: what it observed, plus every warning iqm-client raised.
Warnings: iqm-client warns about job messages and errors it reads from the server, about a
missing ``dut_label`` and the like, which would all be the emulator's fault, so none is allowed
except the two in :data:`IQM_CLIENT_OWN_WARNINGS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulator_fixtures import LiveEmulator, access_token
from side_env import BUILD_TIMEOUT_S

from iqm_async.emulator import EmulatorConfig

# The first test of a session may build the side environment (about a minute) in its setup.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

Emulators = Callable[[EmulatorConfig], LiveEmulator]

SCRIPT_TIMEOUT_S = 60.0
MAPPING = {"q0": "QB4", "q1": "QB9"}  # a coupled pair on Garnet
USERNAME = "alice"
PASSWORD = "wonderland-1"
IQM_CLIENT_OWN_WARNINGS = (
    "models.circuit._Circuit` is deprecated",
    "models.circuit._Instruction` is deprecated",
)
"""Reading any circuit job definition (``tracker.payload()``, which qiskit's ``IQMJob.result()``
calls) makes pydantic try iqm-client 36's deprecated old circuit classes in its
``Circuit | _Circuit | QIRCode`` union; its own ``model_validate_json(model_dump_json())``
round trip warns the same way, with no server involved."""

# Shared by every script: parameters in P, results in OUT, warnings recorded, circuits in
# iqm-client 36's own types (prx angles in radians).
_PRELUDE = """
import json, math, sys, warnings
from uuid import UUID

P = json.load(sys.stdin)
OUT = {}
_recorder = warnings.catch_warnings(record=True)
_caught = _recorder.__enter__()
warnings.simplefilter("always")

from iqm.iqm_client import IQMClient
from iqm.pulse import Circuit, CircuitOperation as Op

def bell(name, a="q0", b="q1"):
    half = math.pi / 2
    return Circuit(name=name, instructions=(
        Op(name="prx", locus=(a,), args={"angle": half, "phase": half}),
        Op(name="prx", locus=(b,), args={"angle": half, "phase": half}),
        Op(name="cz", locus=(a, b), args={}),
        Op(name="prx", locus=(b,), args={"angle": -half, "phase": half}),
        Op(name="measure", locus=(a,), args={"key": "m0"}),
        Op(name="measure", locus=(b,), args={"key": "m1"}),
    ))

def flip(name):
    return Circuit(name=name, instructions=(
        Op(name="prx", locus=("q0",), args={"angle": math.pi, "phase": 0.0}),
        Op(name="measure", locus=("q0",), args={"key": "m0"}),
        Op(name="measure", locus=("q1",), args={"key": "m1"}),
    ))

def quiet(statuses):
    pass  # no tqdm bars on stderr

def error_of(call):
    try:
        call()
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
    return None

def done():
    OUT["warnings"] = sorted({
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in _caught
    })
    print(json.dumps(OUT, default=str))
"""


def run_script(python: Path, body: str, **params: Any) -> dict[str, Any]:
    """Run ``body`` (after the prelude) with the side Python; return its JSON output.

    The child gets this environment without ``IQM_*`` variables (iqm-client 36 reads its URL,
    quantum computer and credentials from them and refuses mixed sources) and without
    ``PYTHONPATH``. It must raise no warning but iqm-client's own deprecations.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("IQM_") and k != "PYTHONPATH"}
    script = _PRELUDE + textwrap.dedent(body) + "\ndone()\n"
    completed = subprocess.run(
        [str(python), "-c", script],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        env=env,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    tail = completed.stderr[-3000:]
    assert completed.returncode == 0, f"the iqm-client 36 script failed:\n{tail}"
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    warned = [
        w for w in result.pop("warnings") if not any(own in w for own in IQM_CLIENT_OWN_WARNINGS)
    ]
    assert warned == [], "iqm-client 36 warned:\n" + "\n".join(warned)
    return result


def test_lists_computers_and_gets_the_dynamic_architecture(
    iqm36_python: Path, live_emulator: LiveEmulator
) -> None:
    out = run_script(
        iqm36_python,
        """
        client = IQMClient.from_url(P["url"])  # one computer listed: it is picked
        server = client._executor.client  # the list from_url read has no public getter
        OUT["listed"] = [qc.alias for qc in server._get_quantum_computers()]
        OUT["picked"] = server.quantum_computer
        dqa = client.get_dynamic_quantum_architecture()
        OUT["calset"] = str(dqa.calibration_set_id)
        OUT["qubits"] = dqa.qubits
        OUT["gates"] = sorted(dqa.gates)
        OUT["cz"] = [list(locus) for locus in dqa.gates["cz"].loci]
        OUT["same_by_id"] = client.get_dynamic_quantum_architecture(dqa.calibration_set_id) == dqa
        named = IQMClient.from_url(P["url"], quantum_computer="garnet")
        OUT["named"] = named.get_dynamic_quantum_architecture() == dqa
        """,
        url=live_emulator.url,
    )
    assert out["listed"] == ["garnet"] and out["picked"] == "garnet"
    assert out["calset"] == live_emulator.emulator.architecture.calibration_set_id
    assert out["qubits"] == [f"QB{i}" for i in range(1, 21)]
    assert {"prx", "cz", "measure"} <= set(out["gates"])
    cz_pairs = {frozenset(locus) for locus in out["cz"]}
    assert len(cz_pairs) == 30 and frozenset({"QB4", "QB9"}) in cz_pairs
    assert out["same_by_id"] is True and out["named"] is True


def test_batch_of_three_with_a_qubit_mapping_then_delete(
    iqm36_python: Path, live_emulator: LiveEmulator
) -> None:
    out = run_script(
        iqm36_python,
        """
        client = IQMClient.from_url(P["url"], quantum_computer="garnet")
        job = client.submit_circuits(
            [bell("bell-a"), flip("flip"), bell("bell-b")], qubit_mapping=P["mapping"], shots=500
        )
        OUT["status"] = str(job.wait_for_completion(
            timeout_secs=30, polling_interval=0.05, progress_callback=quiet
        ))
        measurements = job.result()
        OUT["keys"] = [list(m) for m in measurements]
        OUT["shapes"] = [[len(m[k]), len(m[k][0])] for m in measurements for k in m]
        OUT["bell_shots"] = sorted({
            f"{m['m0'][i][0]}{m['m1'][i][0]}" for m in (measurements[0], measurements[2])
            for i in range(500)
        })
        OUT["flip_shots"] = sorted({f"{a[0]}{b[0]}" for a, b in zip(*measurements[1].values())})
        OUT["counts"] = [[c.measurement_keys, c.counts] for c in job.result_counts()]
        OUT["same_measurements"] = client.get_job_measurements(job.job_id) == measurements
        OUT["same_counts"] = client.get_job_measurement_counts(job.job_id) == job.result_counts()
        OUT["payload_mapping"] = client.get_job(job.job_id).payload().qubit_mapping
        client.delete_job(job.job_id)
        OUT["after_delete"] = error_of(lambda: client.get_job(job.job_id))
        """,
        url=live_emulator.url,
        mapping=MAPPING,
    )
    assert out["status"] == "completed"
    assert out["keys"] == [["m0", "m1"]] * 3
    assert out["shapes"] == [[500, 1]] * 6  # 3 circuits x 2 keys, 500 shots of 1 bit
    assert set(out["bell_shots"]) <= {"00", "11"} and out["flip_shots"] == ["10"]
    bell_a, flipped, bell_b = out["counts"]
    for keys, counts in (bell_a, bell_b):
        assert keys == ["m0", "m1"]
        assert set(counts) <= {"00", "11"} and sum(counts.values()) == 500
    assert flipped == [["m0", "m1"], {"10": 500}]
    assert out["same_measurements"] is True and out["same_counts"] is True
    assert out["payload_mapping"] == MAPPING
    assert out["after_delete"][0] == "NotFoundError"


def test_cancel_a_waiting_job(iqm36_python: Path, live_emulator_factory: Emulators) -> None:
    # One QPU and 30 s per job: the second job certainly waits behind the first.
    live = live_emulator_factory(EmulatorConfig(seed=7, job_seconds=30.0))
    out = run_script(
        iqm36_python,
        """
        client = IQMClient.from_url(P["url"])
        first = client.submit_circuits([bell("first")], qubit_mapping=P["mapping"], shots=10)
        second = client.submit_circuits([bell("second")], qubit_mapping=P["mapping"], shots=10)
        OUT["before"] = [str(second.status), second.job_data.queue_position]
        second.cancel()
        OUT["after"] = str(second.wait_for_completion(
            timeout_secs=10, polling_interval=0.05, progress_callback=quiet
        ))
        OUT["result"] = second.result()
        OUT["again"] = error_of(lambda: client.cancel_job(second.job_id))
        client.cancel_job(first.job_id)  # the processing one too
        OUT["first"] = str(client.get_job(first.job_id).status)
        """,
        url=live.url,
        mapping=MAPPING,
    )
    # The first job is still waiting for the QPU too: one job ahead of the second.
    assert out["before"] == ["waiting", 1]
    assert out["after"] == "cancelled" and out["result"] is None
    assert out["again"][0] == "ConflictError"  # a finished job cannot be cancelled again
    assert out["first"] == "cancelled"


def test_token_and_tokens_file_with_auth_on(
    iqm36_python: Path, live_emulator_factory: Emulators, tmp_path: Path
) -> None:
    config = EmulatorConfig(
        seed=3,
        parallel=True,
        job_seconds=0.0,
        require_auth=True,
        username=USERNAME,
        password=PASSWORD,
    )
    live = live_emulator_factory(config)
    # A JWT whose exp is an hour ahead, as a tokens file needs.
    token = access_token(live.url, USERNAME, PASSWORD)
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps({"access_token": token}), encoding="utf-8")
    live.emulator.reset_stats()
    out = run_script(
        iqm36_python,
        """
        def bell_counts(client):
            job = client.submit_circuits([bell("bell")], qubit_mapping=P["mapping"], shots=200)
            job.wait_for_completion(timeout_secs=30, polling_interval=0.05, progress_callback=quiet)
            return job.result_counts()[0].counts

        OUT["anonymous"] = error_of(lambda: IQMClient.from_url(P["url"]))[0]
        OUT["wrong"] = error_of(lambda: IQMClient.from_url(P["url"], token="not-a-token"))[0]
        by_token = IQMClient.from_url(P["url"], token=P["token"])
        OUT["token"] = bell_counts(by_token)
        by_file = IQMClient.from_url(P["url"], tokens_file=P["tokens_file"])
        OUT["tokens_file"] = bell_counts(by_file)
        OUT["dqa"] = len(by_file.get_dynamic_quantum_architecture().qubits)
        """,
        url=live.url,
        token=token,
        tokens_file=str(tokens_file),
        mapping=MAPPING,
    )
    assert out["anonymous"] == "AuthenticationError" and out["wrong"] == "AuthenticationError"
    for counts in (out["token"], out["tokens_file"]):
        assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200
    assert out["dqa"] == 20
    stats = live.emulator.stats()
    assert stats["responses_by_status"]["401"] == 2  # the two refused constructions only


def test_two_quantum_computers_need_a_choice(
    iqm36_python: Path, live_emulator_factory: Emulators
) -> None:
    config = EmulatorConfig(
        seed=4, parallel=True, job_seconds=0.0, quantum_computers=("garnet", "star")
    )
    live = live_emulator_factory(config)
    out = run_script(
        iqm36_python,
        """
        OUT["unnamed"] = error_of(lambda: IQMClient.from_url(P["url"]))
        OUT["unknown"] = error_of(lambda: IQMClient.from_url(P["url"], quantum_computer="deneb"))
        client = IQMClient.from_url(P["url"], quantum_computer="star")
        dqa = client.get_dynamic_quantum_architecture()
        OUT["qubits"] = dqa.qubits
        job = client.submit_circuits(
            [bell("bell")], qubit_mapping={"q0": "QB3", "q1": "QB1"}, shots=100
        )
        job.wait_for_completion(timeout_secs=30, polling_interval=0.05, progress_callback=quiet)
        OUT["counts"] = job.result_counts()[0].counts
        """,
        url=live.url,
    )
    kind, message = out["unnamed"]
    assert kind == "ClientConfigurationError" and "garnet, star" in message
    assert out["unknown"][0] == "ClientConfigurationError" and "deneb" in out["unknown"][1]
    assert out["qubits"] == ["QB1", "QB2", "QB3", "QB4", "QB5"]
    assert set(out["counts"]) <= {"00", "11"} and sum(out["counts"].values()) == 100
    assert [job.device.alias for job in live.emulator.jobs.values()] == ["star"]


def test_qiskit_adapter_gets_bell_counts(iqm36_python: Path, live_emulator: LiveEmulator) -> None:
    out = run_script(
        iqm36_python,
        """
        from iqm.qiskit_iqm import IQMProvider
        from qiskit import QuantumCircuit, transpile

        provider = IQMProvider(P["url"], quantum_computer="garnet")
        backend = provider.get_backend()
        circuit = QuantumCircuit(2, 2)
        circuit.h(0)
        circuit.cx(0, 1)
        circuit.measure([0, 1], [0, 1])
        compiled = transpile(circuit, backend=backend, optimization_level=3)
        OUT["ops"] = sorted(compiled.count_ops())
        job = backend.run(compiled, shots=300)
        result = job.result()
        OUT["status"] = str(job.status())
        OUT["counts"] = result.get_counts()
        OUT["backend"] = backend.name
        OUT["qubits"] = backend.num_qubits
        """,
        url=live_emulator.url,
    )
    assert out["backend"] == "garnet" and out["qubits"] == 20
    assert set(out["ops"]) <= {"r", "cz", "measure", "barrier"}
    assert out["status"] == "JobStatus.DONE"
    assert set(out["counts"]) <= {"00", "11"} and sum(out["counts"].values()) == 300
    assert len(out["counts"]) == 2  # both outcomes appear in 300 shots


def test_runs_move_circuits_on_a_star_chip(
    iqm36_python: Path, live_emulator_factory: Emulators
) -> None:
    # A star chip: iqm-client 36 reads the resonator from the DQA, validates its own MOVE
    # sandwiches, inserts MOVEs for a qubit-qubit CZ with transpile_insert_moves, and runs
    # both; its simplified architecture sees every qubit pair as coupled.
    config = EmulatorConfig(seed=5, parallel=True, job_seconds=0.0, quantum_computers=("deneb",))
    live = live_emulator_factory(config)
    out = run_script(
        iqm36_python,
        """
        from iqm.iqm_client.transpile import simplify_architecture, transpile_insert_moves

        client = IQMClient.from_url(P["url"], quantum_computer="deneb")
        dqa = client.get_dynamic_quantum_architecture()
        OUT["resonators"] = dqa.computational_resonators
        simple = simplify_architecture(dqa)
        OUT["fictional_pairs"] = len({frozenset(l) for l in simple.gates["cz"].loci})
        half = math.pi / 2
        by_hand = Circuit(name="by-hand", instructions=(
            Op(name="prx", locus=("QB1",), args={"angle": half, "phase": half}),
            Op(name="prx", locus=("QB2",), args={"angle": half, "phase": half}),
            Op(name="move", locus=("QB2", "CR1"), args={}),
            Op(name="cz", locus=("QB1", "CR1"), args={}),
            Op(name="move", locus=("QB2", "CR1"), args={}),
            Op(name="prx", locus=("QB2",), args={"angle": -half, "phase": half}),
            Op(name="measure", locus=("QB1", "QB2"), args={"key": "m"}),
        ))
        inserted = transpile_insert_moves(bell("inserted", "QB3", "QB6"), dqa)
        OUT["inserted_moves"] = sum(1 for i in inserted.instructions if i.name == "move")
        counts = []
        for circuit in (by_hand, inserted):
            job = client.submit_circuits([circuit], shots=300)
            job.wait_for_completion(timeout_secs=30, polling_interval=0.05, progress_callback=quiet)
            counts.append(job.result_counts()[0].counts)
        OUT["counts"] = counts
        """,
        url=live.url,
    )
    assert out["resonators"] == ["CR1"] and out["fictional_pairs"] == 15
    assert out["inserted_moves"] == 2
    by_hand, inserted = out["counts"]
    assert set(by_hand) <= {"00", "11"} and sum(by_hand.values()) == 300
    assert set(inserted) <= {"00", "11"} and sum(inserted.values()) == 300
    assert len(by_hand) == 2 and len(inserted) == 2
