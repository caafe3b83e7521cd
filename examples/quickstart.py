"""Quickstart (placeholder until the client lands): build and validate a Bell-state job request."""

from __future__ import annotations

import json

from iqm_async.models import Circuit, Instruction, RunRequest


def main() -> None:
    bell = Circuit(
        name="bell",
        instructions=(
            Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.25, "phase_t": 0.25}),
            Instruction(name="prx", qubits=("QB2",), args={"angle_t": 0.25, "phase_t": 0.25}),
            Instruction(name="cz", qubits=("QB1", "QB2")),
            Instruction(name="prx", qubits=("QB2",), args={"angle_t": -0.25, "phase_t": 0.25}),
            Instruction(name="measure", qubits=("QB1", "QB2"), args={"key": "m"}),
        ),
    )
    request = RunRequest(circuits=[bell], shots=1000)
    print(json.dumps(request.to_wire(), indent=2))


if __name__ == "__main__":
    main()
