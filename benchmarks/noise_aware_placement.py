"""Noise-aware placement vs fewest-CZ vs pytket-iqm 0.18, measured on the noisy emulator.

The emulator serves Garnet with seeded, heterogeneous quality metrics (``--metrics
generated``) and simulates the noise they imply (``--noise``: depolarising after every prx
and CZ, readout flips). The circuits, each with every qubit measured: GHZ-5 to GHZ-10, QFT-5
of a periodic input and 20 seeded random 6-qubit circuits. (The QFT of |0...0> is uniform:
every arm measures the same fidelity whatever the noise, so it would compare nothing.) Each
is compiled three ways at level 2 (what ``get_compiled_circuits`` uses): our pass with the
metrics (noise-aware), our pass without them (fewest CZs, the previous behaviour), and
pytket-iqm 0.18's ``default_compilation_pass``.
All compiled circuits run in one ``process_circuits`` call, so every arm sees the same server.

Prints, per circuit and arm: CZ count, estimated success probability ``s``
(``compiler.estimated_success_probability``), the measured success ``x`` (normalised linear
cross-entropy of the counts against the ideal distribution, ``(2**n sum_x q_x p_x - 1) /
(2**n sum_x p_x**2 - 1)``, which is ``s`` on average when failed runs give uniform noise),
the fidelity ``s`` predicts (``compiler.estimated_fidelity``) and the Hellinger fidelity
``(sum_x sqrt(p_x q_x))**2`` of the measured counts to the ideal distribution; then the win
rate and mean gain of noise-aware over each other arm; Spearman rank correlations of ``s``
with the measured success and with the measured fidelity, and of the predicted fidelity with
the measured fidelity; GHZ-5's fidelity with and without readout mitigation; whether
compiling twice gives the same circuit; and the compile time with metrics over without.

Run: ``python benchmarks/noise_aware_placement.py`` (about 5 minutes on 2 cores;
``--seed=N`` picks the chip's metrics and the shots, default 1; ``--shots=N``, default
10,000; ``--idle-noise`` adds T1/T2 decay while qubits wait).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _emulator_process import emulator_process
from _shared import ghz, ideal_probabilities, layered_random_circuit, periodic_qft
from pytket.architecture import Architecture
from pytket.backends.backendresult import BackendResult
from pytket.circuit import Bit, Circuit, OpType
from pytket.passes import BasePass

from iqm_async import IQMBackend
from iqm_async.compiler import (
    default_compilation_pass,
    estimated_fidelity,
    estimated_success_probability,
    mitigated_distribution,
)
from iqm_async.quality import QualityMetrics

ARMS = ("noise-aware", "fewest-CZ", "pytket-iqm")
LEVEL = 2


def workload() -> list[Circuit]:
    """GHZ-5..10, QFT-5 of a periodic input and 20 random 6-qubit depth-4 circuits (no
    measurements yet)."""
    return [
        *(ghz(n) for n in range(5, 11)),
        periodic_qft(5),
        *(layered_random_circuit(6, 4, seed=1000 + i) for i in range(20)),
    ]


def hellinger_fidelity(p: dict[tuple[int, ...], float], q: dict[tuple[int, ...], float]) -> float:
    overlap = sum(math.sqrt(p[x] * q.get(x, 0.0)) for x in p)
    return overlap**2


def measured_success(p: dict[tuple[int, ...], float], q: dict[tuple[int, ...], float]) -> float:
    """Normalised linear cross-entropy of measured ``q`` against ideal ``p``: 1 for a perfect
    run, 0 for uniform noise, so the fraction of runs that went right if failed runs give
    uniform noise (what the success probability estimates)."""
    dimension = 2 ** len(next(iter(p)))
    overlap = sum(q.get(x, 0.0) * px for x, px in p.items())
    purity = sum(px * px for px in p.values())
    return (dimension * overlap - 1) / (dimension * purity - 1)


def measured(result: BackendResult, n: int) -> dict[tuple[int, ...], float]:
    bits = [Bit("c", i) for i in range(n)]
    counts = result.get_counts(bits)
    total = sum(counts.values())
    return {outcome: count / total for outcome, count in counts.items()}


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank), with numpy only."""

    def ranks(values: Sequence[float]) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        order = np.argsort(array, kind="stable")
        ranked = np.empty(len(array))
        ranked[order] = np.arange(len(array), dtype=float)
        for value in np.unique(array):
            tied = array == value
            ranked[tied] = ranked[tied].mean()
        return ranked

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def pytket_iqm_pass(architecture: Architecture, level: int) -> BasePass:
    """pytket-iqm 0.18's IQMBackend.default_compilation_pass, without logging in."""
    from pytket.extensions.iqm import IQMBackend as PytketIQMBackend

    backend = object.__new__(PytketIQMBackend)
    backend._arch = architecture
    return backend.default_compilation_pass(level)


def compiled_with(pass_: BasePass, circuit: Circuit) -> Circuit:
    copy = circuit.copy()
    pass_.apply(copy)
    return copy


@dataclass
class Row:
    name: str
    arm: str
    cz: int
    estimate: float
    predicted: float
    success: float = float("nan")
    fidelity: float = float("nan")


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def compile_times(
    architecture: Architecture, metrics: QualityMetrics, circuits: Sequence[Circuit]
) -> tuple[float, float]:
    """Seconds to compile all circuits serially without and with metrics (best of 3 each,
    per circuit; a fresh pass each time, as a backend builds one per call)."""
    plain = with_metrics = 0.0
    for circuit in circuits:
        for use_metrics in (False, True):

            def compile_once(c: Circuit = circuit, m: bool = use_metrics) -> Circuit:
                pass_ = default_compilation_pass(architecture, LEVEL, metrics if m else None)
                return compiled_with(pass_, c)

            best = min(timed(compile_once) for _ in range(3))
            if use_metrics:
                with_metrics += best
            else:
                plain += best
    return plain, with_metrics


def main() -> None:
    options = dict(arg.removeprefix("--").split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    seed = int(options.get("seed", 1))
    shots = int(options.get("shots", 10_000))
    emulator = ["--seed", str(seed), "--metrics", "generated", "--noise", "--parallel"]
    emulator += ["--job-seconds", "0.01"]
    if "--idle-noise" in sys.argv:
        emulator.append("--idle-noise")
    circuits = workload()
    with emulator_process(*emulator) as (url, _), IQMBackend(url, progress=False) as backend:
        architecture = backend.backend_info.architecture
        assert isinstance(architecture, Architecture)
        metrics = backend.quality_metrics  # what the client reads from the metrics route
        assert metrics is not None, "the emulator should serve metrics"
        passes = {
            "noise-aware": default_compilation_pass(architecture, LEVEL, metrics),
            "fewest-CZ": default_compilation_pass(architecture, LEVEL),
            "pytket-iqm": pytket_iqm_pass(architecture, LEVEL),
        }
        measured_circuits = [c.copy().measure_all() for c in circuits]
        compiled: dict[tuple[str, str], Circuit] = {}
        rows: list[Row] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for circuit in measured_circuits:
                for arm in ARMS:
                    done = compiled_with(passes[arm], circuit)
                    compiled[(circuit.name, arm)] = done
                    rows.append(
                        Row(
                            circuit.name,
                            arm,
                            done.n_gates_of_type(OpType.CZ),
                            estimated_success_probability(done, metrics),
                            estimated_fidelity(done, metrics),  # simulates done itself
                        )
                    )
        order = [(row.name, row.arm) for row in rows]
        print(f"emulator seed {seed}, {shots} shots per circuit, level {LEVEL}; running "
              f"{len(order)} circuits ...", flush=True)  # fmt: skip
        started = time.perf_counter()
        handles = backend.process_circuits([compiled[key] for key in order], n_shots=shots)
        results = backend.get_results(handles, timeout=3600)
        print(f"ran in {time.perf_counter() - started:.0f} s\n")
        by_key = dict(zip(order, results, strict=True))
        ideals = {c.name: ideal_probabilities(c) for c in circuits}
        for row in rows:
            n = len(next(iter(ideals[row.name])))
            counts = measured(by_key[(row.name, row.arm)], n)
            row.fidelity = hellinger_fidelity(ideals[row.name], counts)
            row.success = measured_success(ideals[row.name], counts)
        report(rows)

        # Readout mitigation on GHZ-5, noise-aware arm.
        ghz5 = by_key[("ghz5", "noise-aware")]
        raw = hellinger_fidelity(ideals["ghz5"], measured(ghz5, 5))
        corrected = mitigated_distribution(ghz5, compiled[("ghz5", "noise-aware")], metrics)
        mitigated = hellinger_fidelity(ideals["ghz5"], {k[:5]: v for k, v in corrected.items()})
        print(f"GHZ-5 (noise-aware) Hellinger fidelity: raw {raw:.4f}, readout-mitigated "
              f"{mitigated:.4f} ({mitigated - raw:+.4f})")  # fmt: skip

        # Determinism and compile time.
        same = all(
            compiled_with(default_compilation_pass(architecture, LEVEL, metrics), c)
            == compiled[(c.name, "noise-aware")]
            for c in measured_circuits
        )
        print(f"compiling twice with metrics gives the same circuits: {same}")
        plain, with_metrics = compile_times(architecture, metrics, measured_circuits)
        print(f"compile time, {len(measured_circuits)} circuits, level {LEVEL}, best of 3: "
              f"without metrics {plain:.2f} s, with {with_metrics:.2f} s, ratio "
              f"{with_metrics / plain:.2f}")  # fmt: skip


def report(rows: list[Row]) -> None:
    table = {(row.name, row.arm): row for row in rows}
    names = list(dict.fromkeys(row.name for row in rows))
    print(f"{'circuit':<16}" + "".join(f"{arm:>40}" for arm in ARMS))
    header = f"{'CZ':>4} {'s':>6} {'success':>8} {'predicted':>9} {'fidelity':>9}"
    print(f"{'':<16}" + "".join(f"{header:>40}" for _ in ARMS))
    for name in names:
        cells = [table[(name, arm)] for arm in ARMS]
        print(f"{name:<16}" + "".join(
            f"{c.cz:>6} {c.estimate:>7.3f} {c.success:>8.3f} {c.predicted:>9.4f} "
            f"{c.fidelity:>9.4f}"
            for c in cells
        ))  # fmt: skip
    print()
    ours = [table[(name, "noise-aware")] for name in names]
    for other in ARMS[1:]:
        theirs = [table[(name, other)] for name in names]
        gains = [a.fidelity - b.fidelity for a, b in zip(ours, theirs, strict=True)]
        wins = sum(g > 0 for g in gains)
        ties = sum(g == 0 for g in gains)
        print(f"noise-aware vs {other}: better on {wins}/{len(gains)} "
              f"({wins / len(gains):.0%}, ties {ties}); mean fidelity gain "
              f"{statistics.mean(gains):+.4f} (median {statistics.median(gains):+.4f}); mean "
              f"fidelity {statistics.mean(a.fidelity for a in ours):.4f} vs "
              f"{statistics.mean(b.fidelity for b in theirs):.4f}")  # fmt: skip
    both = sum(
        all(table[(n, "noise-aware")].fidelity > table[(n, o)].fidelity for o in ARMS[1:])
        for n in names
    )
    print(f"noise-aware better than both: {both}/{len(names)} ({both / len(names):.0%})")
    pairs = (
        ("s", "estimate", "measured success", "success"),
        ("s", "estimate", "measured fidelity", "fidelity"),
        ("predicted fidelity", "predicted", "measured fidelity", "fidelity"),
    )
    for label, field, other_label, other_field in pairs:
        rho = spearman([getattr(r, field) for r in ours], [getattr(r, other_field) for r in ours])
        rho_all = spearman(
            [getattr(r, field) for r in rows], [getattr(r, other_field) for r in rows]
        )
        print(f"Spearman({label}, {other_label}): the {len(ours)} noise-aware circuits "
              f"{rho:.3f}; all {len(rows)} compiled circuits {rho_all:.3f}")  # fmt: skip
    error = [r.success - r.estimate for r in rows]
    print(f"measured success - s over all {len(rows)}: mean {statistics.mean(error):+.4f}, "
          f"mean |.| {statistics.mean(abs(e) for e in error):.4f}")  # fmt: skip
    # Within each circuit: do the estimate and the fidelity order the three arms alike?
    agree = total = 0
    for name in names:
        for a, b in ((0, 1), (0, 2), (1, 2)):
            x, y = table[(name, ARMS[a])], table[(name, ARMS[b])]
            if x.estimate != y.estimate:
                total += 1
                agree += (x.estimate > y.estimate) == (x.fidelity > y.fidelity)
    print(f"pairs of arms of one circuit that estimate and fidelity order alike: "
          f"{agree}/{total} ({agree / total:.0%})\n")  # fmt: skip


if __name__ == "__main__":
    main()
