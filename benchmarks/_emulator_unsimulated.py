"""``python benchmarks/_emulator_unsimulated.py [emulator options]``: the emulator, with
uniformly random bits instead of a state-vector simulation.

For benchmarks of the client side on circuits the simulator makes slow: a 20-qubit circuit
costs the emulator about 2 s of state-vector work (2**20 amplitudes per gate), which a real
QPU does not spend and which would hide every difference between clients. Everything else
(routes, validation, queues, result encoding) is the real emulator; only the measured bits
are random, with the shapes and keys the circuit asks for.
"""

from __future__ import annotations

import numpy as np

from iqm_async.emulator import __main__ as emulator_main
from iqm_async.emulator import core
from iqm_async.models import MEASURE_NAMES


def _random_bits(self: core.Emulator, job: core.JobRecord) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(job.seed)
    shots = job.request.shots
    return [
        {
            inst.args["key"]: rng.integers(0, 2, (shots, len(inst.qubits)), dtype=np.int8)
            for inst in circuit.instructions
            if inst.name in MEASURE_NAMES
        }
        for circuit in job.circuits
    ]


if __name__ == "__main__":
    core.Emulator._simulate = _random_bits  # type: ignore[method-assign]
    emulator_main.main()
