"""Compile -> translate -> emulator simulator -> decode, against pytket's state vector; and
compile_circuits in a process pool and on a Dask cluster."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from pytket.circuit import Circuit
from sample_circuits import garnet, ghz, qft
from test_compiler_helpers import probabilities, random_circuit

from iqm_async.compiler import _pool as _compile_pool
from iqm_async.compiler import (
    compile_circuits,
    measurement_layout,
    to_backend_result,
    to_iqm_circuit,
)
from iqm_async.errors import CircuitValidationError

SHOTS = 20_000


def _cases() -> list[Circuit]:
    bell = Circuit(2, name="bell").H(0).CX(0, 1)
    randoms = [random_circuit(3 + seed % 3, 4, seed=500 + seed) for seed in range(20)]
    return [bell, ghz(5), qft(5), *randoms]


def test_translate_and_simulate_matches_the_state_vector() -> None:
    """Must show: total variation distance < 0.03 at 20,000 shots for all 23 circuits."""
    simulator = pytest.importorskip("iqm_async.emulator.simulator")
    originals = _cases()
    measured = [c.copy().measure_all() for c in originals]
    compiled = compile_circuits(measured, garnet(), optimisation_level=2)
    rng = np.random.default_rng(2024)
    worst = 0.0
    for original, circuit in zip(originals, compiled, strict=True):
        measurements = simulator.simulate(to_iqm_circuit(circuit), SHOTS, rng)
        counts = to_backend_result(measurements, measurement_layout(circuit)).get_counts()
        expected = probabilities(original)
        outcomes = set(expected) | set(counts)
        tvd = 0.5 * sum(abs(counts.get(o, 0) / SHOTS - expected.get(o, 0.0)) for o in outcomes)
        assert tvd < 0.03, f"{original.name or 'random'}: TVD {tvd:.4f}"
        worst = max(worst, tvd)
    print(f"worst TVD over {len(originals)} circuits: {worst:.4f}")


def _batch() -> list[Circuit]:
    return [random_circuit(4 + i % 3, 3, seed=i).measure_all() for i in range(6)]


def test_small_batches_stay_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small batch")

    monkeypatch.setattr(_compile_pool, "ProcessPoolExecutor", no_pool)
    assert len(compile_circuits(_batch(), garnet(), 1)) == 6
    assert not _compile_pool.worth_a_pool(_batch(), cpu_count=8)
    assert not _compile_pool.worth_a_pool([qft(20)] * 8, cpu_count=1)
    assert _compile_pool.worth_a_pool([random_circuit(20, 20, s) for s in range(4)], cpu_count=2)


def test_own_process_pool_gives_the_serial_output(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = _batch()
    inputs = [c.copy() for c in batch]
    serial = [c.copy() for c in batch]
    pass_ = _compile_pool.default_compilation_pass(garnet(), 2)
    for circuit in serial:
        pass_.apply(circuit)
    monkeypatch.setattr(_compile_pool, "MIN_WORK_FOR_POOL", 0)
    monkeypatch.setattr(_compile_pool.os, "cpu_count", lambda: 2)
    started: list[object] = []
    real_pool = _compile_pool.ProcessPoolExecutor

    def counting_pool(*args: object, **kwargs: object) -> ProcessPoolExecutor:
        started.append(kwargs["mp_context"])
        return real_pool(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_compile_pool, "ProcessPoolExecutor", counting_pool)
    pooled = compile_circuits(batch, garnet(), 2)
    assert pooled == serial
    assert batch == inputs  # inputs untouched
    assert started == [multiprocessing.get_context("spawn")]


def test_given_executor_is_used_and_errors_name_the_circuit() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        too_big = random_circuit(21, 1, seed=1)  # Garnet has 20 qubits
        with pytest.raises(CircuitValidationError, match=r"Circuit 1 .*cannot be compiled"):
            compile_circuits([ghz(3), too_big], garnet(), 1, executor=pool)


def test_dask_cluster_compiles_like_serial() -> None:
    distributed = pytest.importorskip("distributed")
    batch = _batch()[:3]
    serial = compile_circuits(batch, garnet(), 1)
    # Threads in one process keep the test fast; workers receive the same dicts either way.
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = compile_circuits(batch, garnet(), 1, executor=client.get_executor())
    assert on_dask == serial
