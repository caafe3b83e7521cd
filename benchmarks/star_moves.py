"""Star chips: MOVE counts and measured distributions, in one run.

Prints:
1. MOVE count per circuit, on the same compiled CZ circuits: ours (``insert_moves``) vs a
   naive MOVE sandwich per CZ vs iqm-client 36's ``transpile_insert_moves`` (run in the
   cached side environment of ``tests/side_env.py``). Circuits: GHZ-6 and a periodic QFT-6
   on the 6-qubit star (``deneb``), QFT-10, QFT-16 and GHZ-16 on the 16-qubit star
   (``sirius``), and the 20 random 6-12-qubit circuits of part 2; each compiled at level 2
   for the fully connected view of the star.
2. Through ``IQMBackend`` on the emulator (noiseless), 20,000 shots each: GHZ-6 and QFT-6 on
   ``deneb`` over both APIs, and 20 random 6-12-qubit circuits (``star_random_circuit``) on
   ``sirius``: the TVD between measured and ideal distributions, and the TVD that sampling
   alone gives on average for each (the floor no implementation can beat).
3. iqm-client 36 runs a MOVE circuit (its own ``transpile_insert_moves`` of GHZ-6) on the
   emulator's ``deneb``.

Run: ``PYTHONPATH=. /work/main/.venv/bin/python benchmarks/star_moves.py`` (a few minutes on
2 cores; ``--part=1``, ``--part=2`` or ``--part=3`` runs one part; ``--shots=N``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from _shared import SideEnvError, side_env_python

# _shared put tests/ on sys.path.
from sample_circuits import (
    ghz,
    ideal_probabilities,
    periodic_qft,
    qft,
    star_random_circuit,
    total_variation_distance,
)

from iqm_async import IQMBackend
from iqm_async.compiler import (
    compile_circuits,
    insert_moves,
    move_count,
    naive_insert_moves,
    star_architecture,
    star_device,
)
from iqm_async.compiler._translate import _native_ops
from iqm_async.emulator import EmulatorConfig, running_emulator_with_state
from iqm_async.emulator.architectures import load_architecture

RUNNER = Path(__file__).with_name("_iqm36_star_runner.py")
RANDOM = [(6 + seed % 7, seed) for seed in range(20)]


def iqm36(params: dict[str, Any]) -> dict[str, Any]:
    python, _ = side_env_python("iqm-client-36", "iqm-client[qiskit]==36.0.*")
    done = subprocess.run(
        [str(python), str(RUNNER)],
        input=json.dumps(params),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the iqm-client 36 runner failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def part1() -> None:
    print("1. MOVE count (compiled at level 2; same CZ circuits for all three)")
    cases = {
        "deneb": [("GHZ-6", ghz(6)), ("QFT-6 (periodic)", periodic_qft(6))],
        "sirius": [("QFT-10", qft(10)), ("QFT-16", qft(16)), ("GHZ-16", ghz(16))]
        + [(f"random {n}q #{s}", star_random_circuit(n, s)) for n, s in RANDOM],
    }
    totals = [0, 0, 0, 0]
    print(f"   {'chip':7} {'circuit':18} {'CZ':>5} {'ours':>6} {'naive':>6} {'iqm-client 36':>14}")
    for chip, named in cases.items():
        arch = load_architecture(chip)
        star = star_device(arch.dqa)
        assert star is not None
        circuits = [c.copy().measure_all() for _, c in named]
        compiled = compile_circuits(circuits, star_architecture(star), 2)
        ops = [_native_ops(c.get_commands()) for c in compiled]
        request = {"mode": "count", "dqa": json.loads(arch.dqa_json), "circuits": ops}
        theirs = iqm36(request)["moves"]
        for (name, _), native, their in zip(named, ops, theirs, strict=True):
            cz = sum(1 for op in native if op[0] == "cz")
            ours = move_count(insert_moves(native, star))
            naive = move_count(naive_insert_moves(native, star))
            flag = "" if ours <= their else "   <-- more than iqm-client 36"
            print(f"   {chip:7} {name:18} {cz:5} {ours:6} {naive:6} {their:14}{flag}")
            for i, value in enumerate((cz, ours, naive, their)):
                totals[i] += value
    print(f"   {'total':26} {totals[0]:5} {totals[1]:6} {totals[2]:6} {totals[3]:14}")


def sampling_floor(probabilities: dict[Any, float], shots: int) -> float:
    """The mean TVD of ``shots`` perfect samples (normal approximation of each count)."""
    return sum(math.sqrt(2 * p * (1 - p) / (math.pi * shots)) for p in probabilities.values()) / 2


def part2(shots: int) -> None:
    print(f"2. Measured vs ideal distribution through IQMBackend, {shots} shots, noiseless")
    config = EmulatorConfig(
        seed=2026, parallel=True, job_seconds=0.0, quantum_computers=("deneb", "sirius")
    )
    worst = 0.0
    with running_emulator_with_state(config) as (url, emulator):
        runs: list[tuple[str, dict[str, Any], list[tuple[str, Any]]]] = [
            (
                f"deneb / {api}",
                {"api": api, **({"quantum_computer": "deneb"} if api == "iqm-server" else {})},
                [("GHZ-6", ghz(6)), ("QFT-6 (periodic)", periodic_qft(6))],
            )
            for api in ("cocos", "iqm-server")
        ]
        runs.append(
            (
                "sirius / iqm-server",
                {"api": "iqm-server", "quantum_computer": "sirius"},
                [(f"random {n}q #{s}", star_random_circuit(n, s)) for n, s in RANDOM],
            )
        )
        for label, options, named in runs:
            with IQMBackend(url, progress=False, client_options=options) as backend:
                compiled = backend.get_compiled_circuits([c.copy().measure_all() for _, c in named])
                results = backend.run_circuits(compiled, n_shots=shots, timeout=600)
            for (name, circuit), result in zip(named, results, strict=True):
                probabilities = ideal_probabilities(circuit)
                tvd = total_variation_distance(result.get_counts(), probabilities)
                worst = max(worst, tvd)
                floor = sampling_floor(probabilities, shots)
                print(
                    f"   {label:20} {name:18} outcomes {len(probabilities):3}  TVD {tvd:.4f}"
                    f"  (sampling alone: {floor:.4f})"
                )
        rejected = sum(1 for job in emulator.jobs.values() if job.message)
    print(f"   worst TVD {worst:.4f}; jobs that failed on the emulator: {rejected}")


def part3() -> None:
    print("3. iqm-client 36 runs its own MOVE circuit (GHZ-6) on the emulator's deneb")
    arch = load_architecture("deneb")
    star = star_device(arch.dqa)
    assert star is not None
    compiled = compile_circuits([ghz(6).measure_all()], star_architecture(star), 2)[0]
    config = EmulatorConfig(seed=7, parallel=True, job_seconds=0.0, quantum_computers=("deneb",))
    with running_emulator_with_state(config) as (url, _):
        out = iqm36(
            {
                "mode": "run",
                "url": url,
                "quantum_computer": "deneb",
                "circuit": _native_ops(compiled.get_commands()),
                "shots": 2000,
            }
        )
    print(f"   MOVEs {out['moves']}, status {out['status']}, keys {len(out['keys'])}")
    print(f"   counts {out['counts']}")


def main() -> None:
    parts = "123"
    shots = 20_000
    for arg in sys.argv[1:]:
        if arg.startswith("--part="):
            parts = arg.removeprefix("--part=")
        elif arg.startswith("--shots="):
            shots = int(arg.removeprefix("--shots="))
    try:
        if "1" in parts:
            part1()
        if "2" in parts:
            part2(shots)
        if "3" in parts:
            part3()
    except SideEnvError as exc:
        sys.exit(f"iqm-client 36 side environment unavailable: {exc}")


if __name__ == "__main__":
    main()
