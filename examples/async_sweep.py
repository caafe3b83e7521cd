"""An asyncio program that streams pytket results with ``as_completed`` as jobs finish.

Each point of a small rotation sweep is its own job (``batch_size=1``); results print in the
order the jobs end, not the order they were submitted.
"""

from __future__ import annotations

import asyncio
import math

from pytket.circuit import Circuit

from iqm_async import AsyncIQMClient
from iqm_async.backend import AsyncIQMBackend

SHOTS = 500


def rotation(angle_t: float) -> Circuit:
    """Rx(angle) then measure: P(1) = sin^2(pi * angle_t) (angle_t in full turns)."""
    return Circuit(1, 1, name=f"rx_{angle_t:.3f}").Rx(2 * angle_t, 0).measure_all()


async def main(url: str) -> None:
    angles = [i / 16 for i in range(9)]  # 0 .. half a turn
    # The client asks the server which API it speaks (IQM Server API or V1).
    async with AsyncIQMClient(url) as client, AsyncIQMBackend(client, batch_size=1) as backend:
        compiled = await backend.get_compiled_circuits([rotation(a) for a in angles])
        handles = await backend.process_circuits(compiled, n_shots=SHOTS)
        angle_of = {handle: a for handle, a in zip(handles, angles, strict=True)}
        async for handle, result in backend.as_completed(handles, timeout=300):
            ones = result.get_counts().get((1,), 0) / SHOTS
            angle = angle_of[handle]
            expected = math.sin(math.pi * angle) ** 2
            print(
                f"job {handle[0][:8]}  angle_t={angle:.3f}  P(1)={ones:.3f}  "
                f"expected={expected:.3f}"
            )
        print(f"{len(handles)} jobs, {client.request_count} HTTP requests")


if __name__ == "__main__":
    from _server import server_url

    with server_url(seed=11, job_seconds=0.2) as url:
        asyncio.run(main(url))
