"""The pytket backend end to end: iqm_async's IQMBackend vs pytket-iqm 0.18, in one run.

Both backends run the same compiled 2-qubit circuits through ``process_circuits`` +
``get_results`` against one emulator process started by this script
(``python -m iqm_async.emulator --parallel --job-seconds 0``: every job finishes at once, so
the figures measure the clients, not a queue). Printed: wall time of each, the speed-up, and
HTTP requests per circuit counted at the emulator (``GET /_emulator/stats``).

How pytket-iqm reaches the emulator: it builds its server URL as
``pytket.extensions.iqm.backends.iqm._SERVER_URL + "/" + device``. This script sets that
module constant to the emulator's root URL and passes ``device=""``, so the URL is
``http://127.0.0.1:P/`` and iqm-client (which joins endpoint paths with ``posixpath.join``)
requests ``http://127.0.0.1:P/jobs`` etc.: no proxy, no patching of iqm-client. pytket-iqm
needs an API token; the emulator runs without auth, so any string does.

Not timed for either backend: constructing it and compiling (both fetch the architecture
there; pytket-iqm in its ``__init__``, ours on first use). Timed and counted: only
``process_circuits`` + ``get_results``. pytket-iqm runs with its defaults, as users get them
(one job per circuit; iqm-client fetches the calibration before every submit and sleeps 1 s
between polls of a job that is not ready).

By default pytket-iqm runs on all ``--circuits`` (about 10 s for 1,000: it sends several
requests per circuit one after the other). A smaller ``--pytket-circuits`` runs it on fewer
and extrapolates its time linearly; the output says so.

Run: ``/work/venv/bin/python benchmarks/backend_vs_pytket_iqm.py [--circuits 1000]
[--pytket-circuits N] [--shots 100] [--batch-size 100] [--repeats 3]``
(about 40 s on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from _emulator_process import emulator_process, emulator_stats, reset_stats
from pytket.backends.backendresult import BackendResult
from pytket.circuit import Circuit

from iqm_async.backend import IQMBackend


@dataclass
class Run:
    """One backend's timed pass over some circuits."""

    name: str
    circuits: int
    process_s: float
    results_s: float
    requests: int
    requests_by_route: dict[str, int]

    @property
    def seconds(self) -> float:
        return self.process_s + self.results_s

    @property
    def requests_per_circuit(self) -> float:
        return self.requests / self.circuits

    @property
    def ms_per_circuit(self) -> float:
        return 1000 * self.seconds / self.circuits


# --- the emulator -------------------------------------------------------------------------------


def requests_seen(url: str) -> tuple[int, dict[str, int]]:
    """Requests the emulator served since the last reset, in total and by route (it never
    counts ``/_emulator/*``)."""
    stats = emulator_stats(url)
    return int(stats["requests_total"]), dict(stats["requests_by_route"])


# --- circuits -----------------------------------------------------------------------------------


def two_qubit_circuits(n: int, seed: int = 7) -> list[Circuit]:
    """``n`` seeded random 2-qubit circuits: rotations, a CX, rotations, both qubits measured."""
    rng = random.Random(seed)
    circuits = []
    for i in range(n):
        circuit = Circuit(2, 2, name=f"c{i}")
        circuit.Rx(rng.uniform(0, 2), 0).Ry(rng.uniform(0, 2), 1).CX(0, 1)
        circuit.Rz(rng.uniform(0, 2), 0).Rx(rng.uniform(0, 2), 1)
        circuits.append(circuit.measure_all())
    return circuits


# --- the two backends ---------------------------------------------------------------------------


def timed_run(name: str, url: str, backend: Any, circuits: Sequence[Circuit], shots: int) -> Run:
    """``process_circuits`` then ``get_results`` on ``backend``, timed and counted."""
    reset_stats(url)
    started = time.perf_counter()
    handles = backend.process_circuits(circuits, n_shots=shots)
    submitted = time.perf_counter()
    results = backend.get_results(handles, progress=False)
    finished = time.perf_counter()
    requests, by_route = requests_seen(url)
    check_results(results, len(circuits), shots)
    return Run(name, len(circuits), submitted - started, finished - submitted, requests, by_route)


def run_ours(url: str, circuits: Sequence[Circuit], shots: int, batch_size: int, api: str) -> Run:
    with IQMBackend(url, batch_size=batch_size, progress=False, api=api) as backend:
        # Compiling fetches the architecture once (not timed, as pytket-iqm's __init__).
        compiled = backend.get_compiled_circuits(circuits, optimisation_level=1)
        name = f"iqm_async IQMBackend ({api}, batch_size={batch_size})"
        return timed_run(name, url, backend, compiled, shots)


def pytket_iqm_backend(url: str) -> Any:
    """pytket-iqm's IQMBackend pointed at ``url`` through its ``_SERVER_URL`` constant."""
    from pytket.extensions.iqm.backends import iqm as pytket_iqm_module

    pytket_iqm_module._SERVER_URL = url  # the URL becomes f"{url}/" with device ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iqm-client's V1 deprecation warning
        return pytket_iqm_module.IQMBackend(device="", api_token="any-token-the-emulator-ignores")


def run_pytket_iqm(url: str, circuits: Sequence[Circuit], shots: int) -> Run:
    backend = pytket_iqm_backend(url)
    compiled = backend.get_compiled_circuits(circuits, optimisation_level=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iqm-client's V1 deprecation warning
        # pytket's get_results passes ``progress`` on to get_result, which ignores it.
        return timed_run("pytket-iqm 0.18 on iqm-client 22.16", url, backend, compiled, shots)


def check_results(results: Sequence[BackendResult], circuits: int, shots: int) -> None:
    assert len(results) == circuits
    for result in results:
        counts = result.get_counts()
        assert sum(counts.values()) == shots, counts
        assert all(len(key) == 2 for key in counts), counts


# --- report -------------------------------------------------------------------------------------


def report(ours: Run, theirs: Run, target: int) -> None:
    print(
        f"\n{'backend':<40} {'circuits':>8} {'process':>8} {'results':>8} {'total s':>8} "
        f"{'ms/circ':>8} {'req/circ':>9}"
    )
    for run in (ours, theirs):
        print(
            f"{run.name:<40} {run.circuits:>8} {run.process_s:>8.2f} {run.results_s:>8.2f} "
            f"{run.seconds:>8.2f} {run.ms_per_circuit:>8.2f} {run.requests_per_circuit:>9.3f}"
        )
    for run in (ours, theirs):
        routes = ", ".join(f"{route} {n}" for route, n in sorted(run.requests_by_route.items()))
        print(f"  {run.name}: {routes}")
    theirs_at_target = theirs.seconds * target / theirs.circuits
    ours_at_target = ours.seconds * target / ours.circuits
    how = (
        "measured"
        if theirs.circuits == target
        else f"extrapolated from {theirs.circuits}, linear in circuits"
    )
    print(
        f"\nfor {target} circuits: iqm_async {ours_at_target:.2f} s"
        + ("" if ours.circuits == target else f" (extrapolated from {ours.circuits})")
        + f", pytket-iqm {theirs_at_target:.1f} s ({how})"
    )
    speedup = theirs.ms_per_circuit / ours.ms_per_circuit
    verdict = "meets" if speedup >= 20 else "MISSES"
    print(f"speed-up: {speedup:.1f}x ({verdict} the goal of >= 20x)")
    per_circuit = ours.requests_per_circuit
    verdict = "meets" if per_circuit <= 0.1 else "MISSES"
    print(
        f"HTTP requests per circuit: iqm_async {per_circuit:.3f} ({verdict} the goal of <= 0.1), "
        f"pytket-iqm {theirs.requests_per_circuit:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--circuits", type=int, default=1000, help="circuits for iqm_async")
    parser.add_argument(
        "--pytket-circuits",
        type=int,
        default=None,
        help="circuits for pytket-iqm (default: all; fewer are extrapolated)",
    )
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument(
        "--api",
        default="cocos",
        choices=["cocos", "iqm-server", "auto"],
        help="the server API iqm_async speaks (default cocos: the V1 API pytket-iqm 0.18 "
        "speaks, so both run the same protocol)",
    )
    parser.add_argument("--batch-size", type=int, default=100, help="IQMBackend batch_size")
    parser.add_argument("--repeats", type=int, default=3, help="iqm_async runs; best is shown")
    args = parser.parse_args()
    for variable in ("IQM_TOKEN", "IQM_TOKENS_FILE", "IQM_AUTH_SERVER", "IQM_AUTH_USERNAME"):
        os.environ.pop(variable, None)
    circuits = two_qubit_circuits(args.circuits)
    with emulator_process("--seed", "1", "--parallel", "--job-seconds", "0") as (url, _):
        print(f"emulator: {url} (separate process, --parallel --job-seconds 0)")
        print(f"{args.circuits} compiled 2-qubit circuits, {args.shots} shots each, level 1")
        ours_runs = []
        for _ in range(max(1, args.repeats)):
            ours_runs.append(run_ours(url, circuits, args.shots, args.batch_size, args.api))
        ours = min(ours_runs, key=lambda r: r.seconds)
        print("iqm_async runs (s): " + ", ".join(f"{r.seconds:.2f}" for r in ours_runs))
        theirs = run_pytket_iqm(url, circuits[: args.pytket_circuits or len(circuits)], args.shots)
    report(ours, theirs, args.circuits)


if __name__ == "__main__":  # needed: get_compiled_circuits may start spawn-context workers
    main()
