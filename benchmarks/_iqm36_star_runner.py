"""iqm-client 36's side of ``star_moves.py`` (run with the side environment's Python, where
iqm_async is not importable; nothing here imports it). Parameters arrive as JSON on stdin:

- ``{"mode": "count", "dqa": ..., "circuits": [[[name, qubits, args], ...], ...]}``: each
  circuit's native operations (prx angles in full turns, CZs between qubits) go through
  ``transpile_insert_moves`` with its defaults; prints the MOVE count of each result.
- ``{"mode": "run", "url": ..., "quantum_computer": ..., "circuit": [...], "shots": N}``:
  the same transpilation, then ``IQMClient.submit_circuits`` on the emulator; prints the
  MOVE count, the job's status and its counts.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from iqm.iqm_client import IQMClient
from iqm.iqm_client.transpile import transpile_insert_moves
from iqm.pulse import Circuit, CircuitOperation


def to_circuit(name: str, ops: list[list[Any]]) -> Circuit:
    instructions = []
    for op_name, qubits, args in ops:
        if op_name == "prx":  # full turns -> radians, as iqm-client 36 sends them
            args = {"angle": 2 * math.pi * args["angle_t"], "phase": 2 * math.pi * args["phase_t"]}
        instructions.append(CircuitOperation(name=op_name, locus=tuple(qubits), args=args))
    return Circuit(name=name, instructions=tuple(instructions))


def moves(circuit: Circuit) -> int:
    return sum(1 for inst in circuit.instructions if inst.name == "move")


def main() -> None:
    params = json.load(sys.stdin)
    if params["mode"] == "count":
        from iqm.station_control.interface.models import DynamicQuantumArchitecture

        dqa = DynamicQuantumArchitecture.model_validate(params["dqa"])
        counts = [
            moves(transpile_insert_moves(to_circuit(f"c{i}", ops), dqa))
            for i, ops in enumerate(params["circuits"])
        ]
        print(json.dumps({"moves": counts}))
        return
    client = IQMClient.from_url(params["url"], quantum_computer=params["quantum_computer"])
    dqa = client.get_dynamic_quantum_architecture()
    circuit = transpile_insert_moves(to_circuit("iqm36-star", params["circuit"]), dqa)
    job = client.submit_circuits([circuit], shots=params["shots"])
    status = job.wait_for_completion(
        timeout_secs=60, polling_interval=0.05, progress_callback=lambda _: None
    )
    counts = job.result_counts()[0]
    print(
        json.dumps(
            {
                "moves": moves(circuit),
                "status": str(status),
                "keys": counts.measurement_keys,
                "counts": counts.counts,
            }
        )
    )


if __name__ == "__main__":
    main()
