"""The async client under trio: a GHZ circuit on five qubits, three jobs in a nursery."""

from __future__ import annotations

from itertools import pairwise

import trio

from iqm_async import AsyncIQMClient
from iqm_async.models import Circuit, Instruction

GHZ_SIZE = 5


def ghz(qubits: list[str]) -> Circuit:
    """GHZ state in native gates: Ry(pi/2) on the first qubit, then CNOT = Ry CZ Ry^-1."""
    half_y = {"angle_t": 0.25, "phase_t": 0.25}  # Ry(pi/2)
    minus_half_y = {"angle_t": -0.25, "phase_t": 0.25}
    inst = [Instruction(name="prx", qubits=(qubits[0],), args=half_y)]
    for control, target in pairwise(qubits):
        inst += [
            Instruction(name="prx", qubits=(target,), args=half_y),
            Instruction(name="cz", qubits=(control, target)),
            Instruction(name="prx", qubits=(target,), args=minus_half_y),
        ]
    inst.append(Instruction(name="measure", qubits=tuple(qubits), args={"key": "m"}))
    return Circuit(name="ghz", instructions=tuple(inst))


async def main(url: str) -> None:
    async with AsyncIQMClient(
        url, api="auto"
    ) as client:  # IQM Server API or V1, as the server speaks
        dqa = await client.dynamic_architecture()
        # Follow a path of couplings so every cz is on a calibrated pair.
        path = [dqa.couplings[0][0]]
        while len(path) < GHZ_SIZE:
            nxt = next(
                (b if a == path[-1] else a)
                for a, b in dqa.couplings
                if path[-1] in (a, b) and (b if a == path[-1] else a) not in path
            )
            path.append(nxt)
        results: list[dict[str, int]] = []

        async def run_one() -> None:
            job = await client.submit(ghz(path), shots=300)
            counts = await job.counts()
            results.append(dict(counts[0].counts))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(run_one)
    for counts in results:
        print(f"GHZ on {'-'.join(path)}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    from _server import server_url

    with server_url(seed=5, parallel=True, job_seconds=0.1) as url:
        trio.run(main, url)
