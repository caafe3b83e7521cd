"""A 200-point parameter sweep of a 20-qubit circuit at level 2, three ways, in one run.

1. **compiled once** (iqm_async): ``get_compiled_circuit`` on the symbolic circuit, then
   ``process_circuits(compiled, n_shots, symbol_bindings=[...])`` + ``get_results``: the
   circuit is compiled and translated once; each point only evaluates its angles.
2. **compiled per point** (iqm_async): substitute each binding with pytket, then
   ``get_compiled_circuits`` (``compile_circuits``: a process pool over the points),
   ``process_circuits`` + ``get_results``.
3. **pytket-iqm per point**: substitute each binding, then pytket-iqm 0.18's
   ``get_compiled_circuits`` (its level-2 pass per circuit), ``process_circuits`` +
   ``get_results`` (one job per circuit, as its users get it).

Timed end to end for each: substitution, compilation, submission and results. Not timed:
building the backends and fetching the architecture (pytket-iqm does that in ``__init__``),
and one warm-up run of each variant on a 2-qubit, 2-point sweep (process start-up costs).

The circuit: a hardware-efficient ansatz on 20 qubits (``--layers`` layers of Ry on every
qubit and a CZ chain, then a final Ry layer; 60 symbols at the default 2 layers), measured
on all qubits; each point binds every symbol to a seeded random angle. ``--shots`` 100.

The emulator: ``python -m iqm_async.emulator --parallel --job-seconds 0`` in its own process,
but returning random bits instead of simulating (``benchmarks/_emulator_unsimulated.py``):
its state-vector simulation of one 20-qubit circuit of this size takes about 2 s, so 200
points would cost it 400 s per variant, the same for all three, and bury the differences
between the clients. ``--simulate`` keeps the simulator.

pytket-iqm reaches the emulator as in ``backend_vs_pytket_iqm.py`` (its ``_SERVER_URL``
constant). ``--pytket-points N`` runs it on the first N points only and extrapolates its time
linearly to all points (compiling costs about the same for every point); the output says so.

Run: ``PYTHONPATH=. python benchmarks/sweep_compile_once.py [--points 200] [--qubits 20]
[--layers 2] [--shots 100] [--pytket-points N] [--simulate]`` (about 12 minutes on 2 cores,
mostly pytket-iqm compiling at about 2.8 s a point; ``--pytket-points 50`` saves 7 of them).
"""

from __future__ import annotations

import argparse
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from _emulator_process import emulator_process, reset_stats
from backend_vs_pytket_iqm import pytket_iqm_backend, requests_seen
from pytket.backends.backendresult import BackendResult
from pytket.circuit import Circuit

from iqm_async.backend import IQMBackend

Binding = dict[sympy.Symbol, float]


@dataclass
class Run:
    """One variant's timed sweep."""

    name: str
    points: int
    compile_s: float
    process_s: float
    results_s: float
    requests: int

    @property
    def seconds(self) -> float:
        return self.compile_s + self.process_s + self.results_s

    def at(self, points: int) -> float:
        """Its time for ``points`` points, extrapolated linearly if it ran on fewer."""
        return self.seconds * points / self.points


def ansatz(qubits: int, layers: int) -> tuple[Circuit, list[sympy.Symbol]]:
    """Ry on every qubit and a CZ chain, ``layers`` times, a last Ry layer, all measured."""
    circuit = Circuit(qubits, qubits, name="ansatz")
    symbols: list[sympy.Symbol] = []
    for layer in range(layers + 1):
        for q in range(qubits):
            symbol = sympy.Symbol(f"t{layer}_{q}")
            symbols.append(symbol)
            circuit.Ry(symbol, q)
        if layer < layers:
            for q in range(qubits - 1):
                circuit.CZ(q, q + 1)
    return circuit.measure_all(), symbols


def sweep_points(symbols: Sequence[sympy.Symbol], points: int, seed: int = 3) -> list[Binding]:
    rng = random.Random(seed)
    return [{s: rng.uniform(0, 2) for s in symbols} for _ in range(points)]


def substituted(circuit: Circuit, bindings: Sequence[Binding]) -> list[Circuit]:
    circuits = []
    for k, binding in enumerate(bindings):
        point = circuit.copy()
        point.symbol_substitution(binding)
        point.name = f"{circuit.name}_{k}"
        circuits.append(point)
    return circuits


def timed(
    name: str,
    url: str,
    points: int,
    compile_step: Callable[[], list[Circuit] | Circuit],
    process_step: Callable[[Any], list[Any]],
    results_step: Callable[[list[Any]], list[BackendResult]],
    shots: int,
    qubits: int,
) -> Run:
    reset_stats(url)
    started = time.perf_counter()
    compiled = compile_step()
    compiled_at = time.perf_counter()
    handles = process_step(compiled)
    submitted_at = time.perf_counter()
    results = results_step(handles)
    finished_at = time.perf_counter()
    requests, _ = requests_seen(url)
    assert len(results) == points, (name, len(results))
    for result in results:
        counts = result.get_counts()
        assert sum(counts.values()) == shots and all(len(k) == qubits for k in counts), name
    return Run(
        name,
        points,
        compiled_at - started,
        submitted_at - compiled_at,
        finished_at - submitted_at,
        requests,
    )


def run_compiled_once(
    url: str, circuit: Circuit, bindings: list[Binding], shots: int, qubits: int
) -> Run:
    with IQMBackend(url, progress=False) as backend:
        _ = backend.backend_info  # fetch the architecture before timing
        return timed(
            "iqm_async, compiled once",
            url,
            len(bindings),
            lambda: backend.get_compiled_circuit(circuit, optimisation_level=2),
            lambda compiled: backend.process_circuits(
                compiled, n_shots=shots, symbol_bindings=bindings
            ),
            lambda handles: backend.get_results(handles, progress=False),
            shots,
            qubits,
        )


def run_compiled_per_point(
    url: str, circuit: Circuit, bindings: list[Binding], shots: int, qubits: int
) -> Run:
    with IQMBackend(url, progress=False) as backend:
        _ = backend.backend_info
        return timed(
            "iqm_async, compiled per point",
            url,
            len(bindings),
            lambda: backend.get_compiled_circuits(
                substituted(circuit, bindings), optimisation_level=2
            ),
            lambda compiled: backend.process_circuits(compiled, n_shots=shots),
            lambda handles: backend.get_results(handles, progress=False),
            shots,
            qubits,
        )


def run_pytket_iqm(
    url: str, circuit: Circuit, bindings: list[Binding], shots: int, qubits: int
) -> Run:
    backend = pytket_iqm_backend(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iqm-client's V1 deprecation warning
        return timed(
            "pytket-iqm 0.18, pass per point",
            url,
            len(bindings),
            lambda: backend.get_compiled_circuits(
                substituted(circuit, bindings), optimisation_level=2
            ),
            lambda compiled: backend.process_circuits(compiled, n_shots=shots),
            lambda handles: backend.get_results(handles),
            shots,
            qubits,
        )


def report(runs: Sequence[Run], points: int) -> None:
    print(
        f"\n{'variant':<34} {'points':>6} {'compile':>8} {'process':>8} {'results':>8} "
        f"{'total s':>8} {'req':>5} {f'for {points}':>9}"
    )
    for run in runs:
        print(
            f"{run.name:<34} {run.points:>6} {run.compile_s:>8.2f} {run.process_s:>8.2f} "
            f"{run.results_s:>8.2f} {run.seconds:>8.2f} {run.requests:>5} {run.at(points):>9.2f}"
        )
    once, per_point, theirs = runs
    if theirs.points != points:
        print(f"(pytket-iqm ran {theirs.points} points; its time is extrapolated linearly)")
    ratio_ours = per_point.at(points) / once.at(points)
    ratio_theirs = theirs.at(points) / once.at(points)
    verdict = "meets" if ratio_theirs >= 50 else "MISSES"
    print(f"\ncompiled once vs compiled per point (iqm_async): {ratio_ours:.1f}x faster")
    print(
        f"compiled once vs pytket-iqm's pass per point: {ratio_theirs:.1f}x faster "
        f"({verdict} the goal of >= 50x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--qubits", type=int, default=20)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--pytket-points", type=int, default=None, help="default: all points")
    parser.add_argument("--simulate", action="store_true", help="keep the state-vector simulator")
    args = parser.parse_args()
    for variable in ("IQM_TOKEN", "IQM_TOKENS_FILE", "IQM_AUTH_SERVER", "IQM_AUTH_USERNAME"):
        os.environ.pop(variable, None)
    circuit, symbols = ansatz(args.qubits, args.layers)
    bindings = sweep_points(symbols, args.points)
    options = ("--seed", "1", "--parallel", "--job-seconds", "0")
    with emulator_process(*options, simulate=args.simulate) as (url, _):
        how = "simulating" if args.simulate else "random bits, no simulation"
        print(f"emulator: {url} (separate process, --parallel --job-seconds 0, {how})")
        print(
            f"{args.points} points of a {args.qubits}-qubit ansatz ({len(symbols)} symbols, "
            f"{circuit.n_gates} gates), level 2, {args.shots} shots per point"
        )
        # Untimed: each variant's path once on a 2-qubit, 2-point sweep, so that one-time
        # costs of the process (imports, pytket's first symbolic conversions, thread start)
        # are paid by none of the timed runs.
        tiny, tiny_symbols = ansatz(2, 1)
        tiny_points = sweep_points(tiny_symbols, 2)
        for variant in (run_compiled_once, run_compiled_per_point, run_pytket_iqm):
            variant(url, tiny, tiny_points, args.shots, 2)
        once = run_compiled_once(url, circuit, bindings, args.shots, args.qubits)
        print(f"  {once.name}: {once.seconds:.2f} s")
        per_point = run_compiled_per_point(url, circuit, bindings, args.shots, args.qubits)
        print(f"  {per_point.name}: {per_point.seconds:.2f} s")
        some = bindings[: args.pytket_points or len(bindings)]
        theirs = run_pytket_iqm(url, circuit, some, args.shots, args.qubits)
        print(f"  {theirs.name}: {theirs.seconds:.2f} s")
    report([once, per_point, theirs], args.points)


if __name__ == "__main__":  # needed: get_compiled_circuits starts spawn-context workers
    main()
