"""Compile many circuits at once, in worker processes when it pays (private module).

pytket passes hold the GIL for their whole run (seconds for a 20-qubit circuit at level 2),
so threads give no parallelism and would freeze an event loop; processes do. Circuits and
the pass travel as pytket dicts and are rebuilt in the worker, so any
``concurrent.futures.Executor`` works: our own spawn-context process pool, or a Dask
cluster's ``distributed.Client(...).get_executor()``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

from pytket.circuit import Circuit
from pytket.passes import BasePass

from ..errors import CircuitValidationError
from ..quality import QualityMetrics
from ._noise import DeviceErrors
from ._passes import ArchitectureLike, default_compilation_pass, pass_from_dict

# Below this many circuits, or this much work, starting worker processes (about a second
# each: a fresh interpreter imports pytket) costs more than it saves.
MIN_CIRCUITS_FOR_POOL = 4
MIN_WORK_FOR_POOL = 20_000
"""Estimated work, in gate x qubit units (a 20-qubit depth-20 circuit is about 20,000)."""


def estimated_work(circuit: Circuit) -> int:
    """A rough compile-cost estimate: gates times qubits (no units; only compared)."""
    return circuit.n_gates * max(circuit.n_qubits, 1)


def worth_a_pool(circuits: Sequence[Circuit], cpu_count: int | None) -> bool:
    """Whether a batch is big enough to compile in a fresh process pool."""
    if (cpu_count or 1) < 2 or len(circuits) < MIN_CIRCUITS_FOR_POOL:
        return False
    return sum(estimated_work(c) for c in circuits) >= MIN_WORK_FOR_POOL


def _compile_one(pass_: BasePass, circuit: Circuit, index: int) -> Circuit:
    compiled = circuit.copy()
    try:
        pass_.apply(compiled)
    except (RuntimeError, ValueError) as exc:
        raise CircuitValidationError(
            f"Circuit {index} ('{circuit.name or 'unnamed'}') cannot be compiled for this "
            f"device: {exc}. Check that it fits the device (qubit count) and has no "
            "classical control."
        ) from None
    return compiled


def compile_from_dicts(
    pass_dict: dict[str, Any], circuit_dict: dict[str, Any], index: int
) -> dict[str, Any]:
    """Worker entry point: rebuild the pass and circuit from dicts, compile, return a dict."""
    pass_ = pass_from_dict(pass_dict)
    return _compile_one(pass_, Circuit.from_dict(circuit_dict), index).to_dict()


def compile_circuits(
    circuits: Sequence[Circuit],
    architecture: ArchitectureLike,
    optimisation_level: int = 2,
    executor: Executor | None = None,
    metrics: QualityMetrics | DeviceErrors | None = None,
) -> list[Circuit]:
    """Compile circuits with :func:`default_compilation_pass`; the output equals serial
    compilation, circuit for circuit, in the input order. Inputs are not changed.

    Identical circuits (equal but for their names) are compiled once; each gets its own
    copy of the result, under its own name. Symbols stay symbolic: compile a parameterised
    circuit once and run it for many values (``IQMBackend.process_circuits(...,
    symbol_bindings=...)`` or :func:`translate_sweep`).

    Args:
        circuits: pytket circuits.
        architecture: a pytket ``Architecture`` or a ``DynamicQuantumArchitecture``.
        optimisation_level: 0, 1 or 2 (default 2, as pytket's ``get_compiled_circuit``).
        executor: any ``concurrent.futures.Executor`` to compile in (e.g. a Dask
            ``distributed.Client(...).get_executor()``); it must run functions in processes
            or on workers for a speed-up. Default None: small batches are compiled here,
            serially; bigger ones in a temporary process pool (spawn context, one worker per
            CPU) shut down before returning. Scripts that use the pool need the usual
            ``if __name__ == "__main__":`` guard.
        metrics: the device's quality metrics, for noise-aware placement (see
            :func:`default_compilation_pass`); default None: fewest CZs.

    Raises:
        CircuitValidationError: a circuit cannot be compiled for the device.
        ConfigurationError: an optimisation level outside 0-2.
    """
    pass_ = default_compilation_pass(architecture, optimisation_level, metrics)
    return compile_with_pass(circuits, pass_, executor)


def compile_with_pass(
    circuits: Sequence[Circuit], pass_: BasePass, executor: Executor | None = None
) -> list[Circuit]:
    """Compile circuits with ``pass_`` (e.g. a star chip's
    :func:`~iqm_async.compiler.star_compilation_pass`), as :func:`compile_circuits` does:
    identical circuits once, many in worker processes, the output in the input order.

    Raises:
        CircuitValidationError: a circuit cannot be compiled for the device.
    """
    circuits = list(circuits)
    unique, first_of = distinct_circuits(circuits)
    compiled = _compile_distinct(pass_, [circuits[i] for i in unique], unique, executor)
    return spread_compiled(circuits, unique, first_of, compiled)


def spread_compiled(
    circuits: Sequence[Circuit],
    unique: Sequence[int],
    first_of: Sequence[int],
    compiled: Sequence[Circuit],
) -> list[Circuit]:
    """Every circuit's compiled form from the distinct ones' (see :func:`distinct_circuits`):
    ``compiled[k]`` is circuit ``unique[k]`` compiled; a repeat gets its own copy, under its
    own name."""
    by_index = dict(zip(unique, compiled, strict=True))
    return [_as_copy_of(by_index[first_of[i]], c, i in by_index) for i, c in enumerate(circuits)]


def distinct_circuits(circuits: Sequence[Circuit]) -> tuple[list[int], list[int]]:
    """Which circuits to compile: ``(index of the first of each distinct circuit, index of
    the first circuit equal to each circuit)``. Names are ignored (a pass never reads them);
    every other part of the circuit, its phase and symbols included, must be equal."""
    first_by_content: dict[str, int] = {}
    unique: list[int] = []
    first_of: list[int] = []
    for index, circuit in enumerate(circuits):
        content = circuit.to_dict()
        content.pop("name", None)
        key = json.dumps(content, sort_keys=True)
        first = first_by_content.setdefault(key, index)
        if first == index:
            unique.append(index)
        first_of.append(first)
    return unique, first_of


def _as_copy_of(compiled: Circuit, source: Circuit, is_first: bool) -> Circuit:
    """``compiled`` for ``source``: its own object (and name) when it repeats an earlier one."""
    if is_first:
        return compiled
    if source.name == compiled.name:
        return compiled.copy()
    # pytket cannot set a name back to None, so the copy is rebuilt from its dict.
    content = compiled.to_dict()
    content["name"] = source.name
    if source.name is None:
        del content["name"]
    return Circuit.from_dict(content)


def _compile_distinct(
    pass_: BasePass, circuits: list[Circuit], indices: list[int], executor: Executor | None
) -> list[Circuit]:
    if executor is None and not worth_a_pool(circuits, os.cpu_count()):
        return [_compile_one(pass_, c, i) for i, c in zip(indices, circuits, strict=True)]
    if executor is not None:
        return _compile_in(executor, pass_, circuits, indices)
    workers = min(len(circuits), os.cpu_count() or 1)
    # spawn, never fork: the caller may hold threads or a running event loop.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return _compile_in(pool, pass_, circuits, indices)


def _compile_in(
    executor: Executor, pass_: BasePass, circuits: list[Circuit], indices: list[int]
) -> list[Circuit]:
    """Compile on ``executor``; ``indices`` are the circuits' places in the caller's list."""
    pass_dict = pass_.to_dict()
    # Longest first, so the last circuit to start is a short one (better load balance).
    order = sorted(range(len(circuits)), key=lambda i: -estimated_work(circuits[i]))
    futures: dict[int, Future[dict[str, Any]]] = {}
    try:
        for i in order:
            futures[i] = executor.submit(
                compile_from_dicts, pass_dict, circuits[i].to_dict(), indices[i]
            )
        return [Circuit.from_dict(futures[i].result()) for i in range(len(circuits))]
    finally:
        for future in futures.values():
            future.cancel()  # after a failure, do not leave queued work running
