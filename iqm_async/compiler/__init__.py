"""Native-gate compiler: pytket circuits in, IQM wire circuits out, measurements back.

Pure functions without network I/O::

    compiled = compile_circuits(circuits, architecture_from_dqa(dqa), optimisation_level=2)
    prepared, ppcirc = prepare_circuit(compiled[0], postprocess=True)
    wire = to_iqm_circuit(prepared)                  # models.Circuit, qubits named QB<n>
    layout = measurement_layout(prepared)            # JSON-able, keep it with the job
    ...                                              # submit wire, get measurements back
    result = to_backend_result(measurements, layout, ppcirc)   # pytket BackendResult

A parameter sweep compiles once and translates once; each binding only evaluates angles::

    compiled = compile_circuits([symbolic], architecture)[0]     # symbols stay symbolic
    wires, layout = translate_sweep(compiled, [{"theta": 0.1}, {"theta": 0.2}, ...])

Qubit names: a translated circuit uses the physical names directly (``node[i]`` ->
``QB{i+1}``), so it needs no qubit mapping in the run request. Measurement keys are the
classical bits' names (``"c[0]"``), one single-qubit ``measure`` per bit.

Star chips (qubits coupled through a computational resonator): compile for
``star_architecture(star_device(dqa))``, then translate with
``rewrite=functools.partial(insert_moves, star=star)``, which puts in the MOVEs.

Placement is deterministic: compiling the same circuit twice gives the same circuit, on any
machine load, in this process or a worker. Given the device's quality metrics
(``default_compilation_pass(arch, level, metrics)``), it is noise-aware: it picks the
circuit with the highest :func:`estimated_success_probability`. :func:`estimated_fidelity`
turns that estimate into the Hellinger fidelity it predicts for the circuit's own output.
"""

from __future__ import annotations

from ._decode import to_backend_result
from ._fidelity import (
    MAX_SIMULATED_QUBITS,
    estimated_fidelity,
    estimated_fidelity_from_dicts,
    ideal_probabilities,
)
from ._mitigate import measured_qubits, mitigated_distribution
from ._noise import DeviceErrors, backend_info_errors, estimated_success_probability
from ._passes import (
    X_CIRCUIT,
    architecture_from_dqa,
    default_compilation_pass,
    gate_set,
    pass_from_dict,
    prepare_circuit,
    rebase_pass,
    required_predicates,
)
from ._pool import (
    compile_circuits,
    compile_from_dicts,
    compile_with_pass,
    distinct_circuits,
    spread_compiled,
)
from ._star import (
    StarDevice,
    insert_moves,
    move_count,
    naive_insert_moves,
    star_architecture,
    star_compilation_pass,
    star_device,
    star_link_errors,
)
from ._sweep import (
    CircuitSweep,
    Translated,
    check_bindings,
    check_sweep,
    translate_for_run,
    translate_sweep,
)
from ._translate import (
    CircuitJSON,
    MeasurementLayout,
    Rewrite,
    measurement_layout,
    to_iqm_circuit,
    translate,
    translate_json,
)

__all__ = [
    "MAX_SIMULATED_QUBITS",
    "X_CIRCUIT",
    "CircuitJSON",
    "CircuitSweep",
    "DeviceErrors",
    "MeasurementLayout",
    "Rewrite",
    "StarDevice",
    "Translated",
    "architecture_from_dqa",
    "backend_info_errors",
    "check_bindings",
    "check_sweep",
    "compile_circuits",
    "compile_from_dicts",
    "compile_with_pass",
    "default_compilation_pass",
    "distinct_circuits",
    "estimated_fidelity",
    "estimated_fidelity_from_dicts",
    "estimated_success_probability",
    "gate_set",
    "ideal_probabilities",
    "insert_moves",
    "measured_qubits",
    "measurement_layout",
    "mitigated_distribution",
    "move_count",
    "naive_insert_moves",
    "pass_from_dict",
    "prepare_circuit",
    "rebase_pass",
    "required_predicates",
    "spread_compiled",
    "star_architecture",
    "star_compilation_pass",
    "star_device",
    "star_link_errors",
    "to_backend_result",
    "to_iqm_circuit",
    "translate",
    "translate_for_run",
    "translate_json",
    "translate_sweep",
]
