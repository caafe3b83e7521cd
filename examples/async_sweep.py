"""An asyncio program that streams results with ``as_completed`` as jobs finish.

Each point of a small rotation sweep is its own job; results print in the order the jobs
end, not the order they were submitted.
"""

from __future__ import annotations

import asyncio
import math

from iqm_async import AsyncIQMClient
from iqm_async.models import Circuit, Instruction

SHOTS = 500


def rotation(angle_t: float, qubit: str = "QB1") -> Circuit:
    """prx(angle) then measure: P(1) = sin^2(pi * angle_t) (angle_t in full turns)."""
    return Circuit(
        name=f"prx_{angle_t:.3f}",
        instructions=(
            Instruction(name="prx", qubits=(qubit,), args={"angle_t": angle_t, "phase_t": 0.0}),
            Instruction(name="measure", qubits=(qubit,), args={"key": "m"}),
        ),
    )


async def main(url: str) -> None:
    angles = [i / 16 for i in range(9)]  # 0 .. half a turn
    async with AsyncIQMClient(
        url, api="auto"
    ) as client:  # IQM Server API or V1, as the server speaks
        jobs = await asyncio.gather(*(client.submit(rotation(a), shots=SHOTS) for a in angles))
        angle_of = {job.id: a for job, a in zip(jobs, angles, strict=True)}
        async for job in client.as_completed(jobs, timeout=300):
            result = await job.result()  # a JobResult: per circuit, key -> shots x bits
            ones = float(result.measurement_arrays[0]["m"][:, 0].mean())
            angle = angle_of[job.id]
            expected = math.sin(math.pi * angle) ** 2
            print(
                f"job {job.id[:8]}  angle_t={angle:.3f}  P(1)={ones:.3f}  expected={expected:.3f}"
            )
        print(f"{len(jobs)} jobs, {client.request_count} HTTP requests")


if __name__ == "__main__":
    from _server import server_url

    with server_url(seed=11, job_seconds=0.2) as url:
        asyncio.run(main(url))
