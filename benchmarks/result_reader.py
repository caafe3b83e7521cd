"""Reading a V1 job result body: the byte-level reader vs pydantic + numpy, per workload.

Run: ``PYTHONPATH=. python benchmarks/result_reader.py [--repeats=N]`` (best of N, default 7).
No server: the bodies are written here, in the emulator's own way (its ``result_json`` for
the measurements, then the metadata with the request echo of every circuit, as
``Emulator.result_json`` appends it), so the bytes are what the client reads off the wire.

Both ways end where the IQMBackend starts decoding: a status and one dict of
``key -> shots x bits`` uint8 arrays per circuit, the metadata not needed.

- reader: what the client does, ``CocosV1().read_result`` on the reply: the byte-level reader
  (``api/_v1_measurements.py``: ``split_measurements``, ``split_metadata``), then pydantic on
  the rest (status, message, warnings).
- pydantic: ``RunResult.model_validate_json(body)`` (measurements and metadata included),
  then ``measurement_arrays_of`` (``np.asarray`` per key with its 0/1 check): what the client
  does for a body the reader leaves alone.

Keys are one per classical bit (``c[0]``, ``c[1]``, ...), each ``shots x 1``, as the
compiler names them; the ``1 key`` rows put all bits under one key ``m``, as hand-written IQM
circuits often do. Timing: ``time.perf_counter``, best of N repeats, each way alternately in
the same process, a full ``gc.collect()`` before every timed call. Once with the garbage
collector enabled, as in a user's process (building millions of lists then triggers
collections that walk them), and once disabled, which shows the parsing work alone.

Measured (Python 3.11.7, numpy 2.4.6, pydantic 2.14.4, 2 shared CPUs under load; best of 7,
ms):

                                                        gc enabled               gc disabled
    workload      circuits x shots x bits    MB   reader  pydantic  ratio   reader  pydantic  ratio
    backend batch           100 x 100 x 2   0.1      2.7       9.5   3.48      3.5       8.6   2.50
    backend batch          100 x 1000 x 5   2.2     32.6     437.3  13.42     32.7     163.1   4.98
    backend batch          1000 x 100 x 2   1.4     19.8     212.7  10.75     20.4      98.5   4.82
    backend batch         1000 x 1000 x 2   8.6    145.4    1579.3  10.86    140.4     681.5   4.86
    backend batch         1000 x 1000 x 5  21.5    363.3    3660.9  10.08    360.0    1822.8   5.06
    middle                10 x 10000 x 10   4.0     63.8     831.7  13.03     61.5     321.1   5.22
    large single          1 x 100000 x 20   8.0    136.3    1505.4  11.05    138.6     677.3   4.89
    large, 1 key          1 x 100000 x 20   4.2     73.9     224.4   3.04     65.1     118.6   1.82

The reader pays on every workload, most on the IQMBackend's (one key per bit: 10-13x with
the collector on, about 5x with it off); its smallest margin, one 20-bit key per shot with
the collector off, is 1.8x. Before the reader checked tokens against a grammar table (in
int32 and uint8 rather than int64) it took 1.5-1.9x longer: 204.8 ms and 110.7 ms for the
two large rows, 1.07x (even) against pydantic for the second with the collector off.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from iqm_async.api import CocosV1
from iqm_async.api.cocos import measurement_arrays_of
from iqm_async.api.cocos_wire import RunResult
from iqm_async.emulator.wire import result_json
from iqm_async.models import Circuit, Instruction, RunRequest
from iqm_async.results import JobResult

API = CocosV1()
JOB_ID = "0b7c1f8e-3d2a-4c55-9e61-5a8f0d2b7c10"
REQUEST = httpx.Request("GET", f"http://server/jobs/{JOB_ID}")

# (label, circuits, shots, bits, one key per bit)
WORKLOADS = [
    ("backend batch", 100, 100, 2, True),
    ("backend batch", 100, 1_000, 5, True),
    ("backend batch", 1_000, 100, 2, True),
    ("backend batch", 1_000, 1_000, 2, True),
    ("backend batch", 1_000, 1_000, 5, True),
    ("middle", 10, 10_000, 10, True),
    ("large single", 1, 100_000, 20, True),
    ("large, 1 key", 1, 100_000, 20, False),
]


def wire_circuit(name: str, n_bits: int, per_key: bool) -> Circuit:
    """A compiled-looking circuit: two layers of prx and a cz chain per qubit, then measures."""
    qubits = [f"QB{q + 1}" for q in range(n_bits)]
    ops = []
    for layer in range(2):
        ops += [
            Instruction(
                name="prx", qubits=(q,), args={"angle_t": 0.25 + layer / 7, "phase_t": 0.125}
            )
            for q in qubits
        ]
        ops += [Instruction(name="cz", qubits=(a, b)) for a, b in itertools.pairwise(qubits)]
    if per_key:
        ops += [
            Instruction(name="measure", qubits=(q,), args={"key": f"c[{i}]"})
            for i, q in enumerate(qubits)
        ]
    else:
        ops.append(Instruction(name="measure", qubits=tuple(qubits), args={"key": "m"}))
    return Circuit(name=name, instructions=tuple(ops))


def result_body(n_circuits: int, shots: int, n_bits: int, per_key: bool) -> bytes:
    """The ``GET jobs/{id}`` reply of a finished job, as the emulator writes it."""
    rng = np.random.default_rng(1)
    request = RunRequest(
        circuits=[wire_circuit(f"circuit_{i}", n_bits, per_key) for i in range(n_circuits)],
        shots=shots,
    )
    widths = {f"c[{i}]": 1 for i in range(n_bits)} if per_key else {"m": n_bits}
    bits = [
        {key: rng.integers(0, 2, size=(shots, w), dtype=np.int8) for key, w in widths.items()}
        for _ in range(n_circuits)
    ]
    reply = result_json({"status": "ready", "message": None, "warnings": None}, bits)
    rest = {
        "calibration_set_id": "7f6e0e3c-5b0a-4d39-9d53-0c1d5d1c9a11",
        "cocos_version": "30.2.0",
        "timestamps": {
            step: "2025-01-01T12:00:00.000000+00:00"
            for step in ("job_start", "compile_start", "compile_end", "submit_start",
                         "submit_end", "execution_start", "execution_end", "job_end")
        },
    }  # fmt: skip
    others = json.dumps(rest, separators=(",", ":")).encode()
    metadata = b'{"request":' + request.to_wire_json() + b"," + others[1:]
    return reply[:-1] + b',"metadata":' + metadata + b"}"


def with_reader(body: bytes) -> list[dict[str, np.ndarray]]:
    result = API.read_result(JOB_ID, httpx.Response(200, content=body, request=REQUEST))
    assert isinstance(result, JobResult)
    assert result._load_metadata is not None, "the reader must leave the metadata as JSON"
    return result.measurement_arrays


def with_pydantic(body: bytes) -> list[dict[str, np.ndarray]]:
    result = RunResult.model_validate_json(body)
    return measurement_arrays_of("job", result.measurements or [])


def time_ms(read: Callable[[bytes], Any], body: bytes, gc_on: bool) -> float:
    """One call's wall time; a full collection first, so no call pays for earlier garbage."""
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        started = time.perf_counter()
        read(body)
        return (time.perf_counter() - started) * 1000
    finally:
        gc.enable()


def main() -> None:
    repeats = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--repeats=")), 7))
    print(f"best of {repeats}, ms; ratio = pydantic / reader (> 1: the reader is faster)")
    print(f"{'':<13} {'':>23} {'':>5}  {'gc enabled':^24}  {'gc disabled':^24}".rstrip())
    columns = f"{'reader':>7} {'pydantic':>9} {'ratio':>6}"
    print(f"{'workload':<13} {'circuits x shots x bits':>23} {'MB':>5}  {columns}  {columns}")
    for label, n_circuits, shots, n_bits, per_key in WORKLOADS:
        body = result_body(n_circuits, shots, n_bits, per_key)
        ours, theirs = with_reader(body), with_pydantic(body)
        assert all(
            a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
            for a, b in zip(ours, theirs, strict=True)
        )
        del ours, theirs
        row = []
        for gc_on in (True, False):
            reader = pydantic = float("inf")
            for _ in range(repeats):  # alternately, so drift in the machine's load hits both
                reader = min(reader, time_ms(with_reader, body, gc_on))
                pydantic = min(pydantic, time_ms(with_pydantic, body, gc_on))
            row.append(f"{reader:>7.1f} {pydantic:>9.1f} {pydantic / reader:>6.2f}")
        shape = f"{n_circuits} x {shots} x {n_bits}"
        print(f"{label:<13} {shape:>23} {len(body) / 1e6:>5.1f}  {row[0]}  {row[1]}")


if __name__ == "__main__":
    main()
