"""Run N jobs with iqm-client 36 against an emulator; print wall time and requests as JSON.

``client_throughput.py`` runs this file with the Python of the iqm-client 36 side environment
(``tests/side_env.py``); iqm_async is not importable there, and nothing here imports it.
Parameters arrive as JSON on stdin: ``url``, ``jobs``, ``threads`` (0 = sequential, one
client; else a pool of that many threads, one client per thread) and ``shots``.

iqm-client runs with its defaults, as users get them: ``submit_circuits`` fetches the
dynamic architecture before each submit, ``wait_for_completion`` polls every 1 s and draws
tqdm bars (on stderr, which the caller shows only on failure). Clients are built before the
clock starts; requests are the emulator's ``requests_total`` after minus before
(``/_emulator/stats`` is not counted itself).
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from iqm.iqm_client import IQMClient
from iqm.pulse import Circuit, CircuitOperation

QUBIT_MAPPING = {"q0": "QB1"}


def requests_total(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as reply:
        return int(json.load(reply)["requests_total"])


def circuit(index: int) -> Circuit:
    return Circuit(
        name=f"iqm36-{index}",
        instructions=(
            CircuitOperation(name="prx", locus=("q0",), args={"angle": math.pi, "phase": 0.0}),
            CircuitOperation(name="measure", locus=("q0",), args={"key": "m"}),
        ),
    )


def run_one(client: Any, index: int, shots: int) -> None:
    tracker = client.submit_circuits([circuit(index)], qubit_mapping=QUBIT_MAPPING, shots=shots)
    tracker.wait_for_completion()
    measurements = tracker.result()
    assert measurements and len(measurements[0]["m"]) == shots, measurements


def main() -> None:
    params = json.load(sys.stdin)
    url, jobs, threads, shots = params["url"], params["jobs"], params["threads"], params["shots"]
    clients = [IQMClient.from_url(url, quantum_computer="garnet") for _ in range(max(threads, 1))]
    before = requests_total(url)
    started = time.perf_counter()
    if threads == 0:
        for index in range(jobs):
            run_one(clients[0], index, shots)
    else:
        with ThreadPoolExecutor(threads) as pool:
            futures = [
                pool.submit(run_one, clients[i % threads], 300_000 + i, shots) for i in range(jobs)
            ]
            for future in futures:
                future.result()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "requests": requests_total(url) - before}))


if __name__ == "__main__":
    main()
