"""pytket under trio: a GHZ circuit on five qubits, compiled once, three jobs in a nursery."""

from __future__ import annotations

import trio
from pytket.circuit import Circuit

from iqm_async import AsyncIQMClient
from iqm_async.backend import AsyncIQMBackend

GHZ_SIZE = 5


def ghz(size: int) -> Circuit:
    circuit = Circuit(size, size, name="ghz").H(0)
    for qubit in range(1, size):
        circuit.CX(qubit - 1, qubit)
    return circuit.measure_all()


async def main(url: str) -> None:
    # The client asks the server which API it speaks (IQM Server API or V1).
    async with AsyncIQMClient(url) as client, AsyncIQMBackend(client, batch_size=1) as backend:
        # Placed and routed onto calibrated couplings, in a worker process.
        (compiled,) = await backend.get_compiled_circuits([ghz(GHZ_SIZE)])
        results: list[dict[str, int]] = []

        async def run_one() -> None:
            (handle,) = await backend.process_circuits([compiled], n_shots=300)
            result = await backend.get_result(handle)
            counts = result.get_counts()
            results.append({"".join(map(str, bits)): n for bits, n in counts.items()})

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(run_one)
    qubits = [f"QB{node.index[0] + 1}" for node in sorted(compiled.qubits)]  # node[i] = QB<i+1>
    for counts in results:
        print(f"GHZ on {'-'.join(qubits)}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    from _server import server_url

    with server_url(seed=5, parallel=True, job_seconds=0.1) as url:
        trio.run(main, url)
