"""Readout mitigation for pytket results (private; the numbers are in
:mod:`iqm_async.mitigation`, which needs no pytket)."""

from __future__ import annotations

from collections.abc import Mapping

from pytket.backends.backendresult import BackendResult
from pytket.circuit import Bit, Circuit, OpType

from ..errors import InputError
from ..metadata import node_to_qubit_name
from ..mitigation import mitigated_probabilities
from ..quality import QualityMetrics


def measured_qubits(circuit: Circuit) -> dict[Bit, str]:
    """Which physical qubit each classical bit of a compiled circuit is measured from.

    Raises:
        CircuitValidationError: a measured qubit is not a device node (compile first).
    """
    return {
        command.bits[0]: node_to_qubit_name(command.qubits[0])
        for command in circuit.commands_of_type(OpType.Measure)
    }


def mitigated_distribution(
    result: BackendResult, circuit: Circuit | Mapping[Bit, str], metrics: QualityMetrics
) -> dict[tuple[int, ...], float]:
    """``result.get_empirical_distribution()`` corrected for readout errors (opt-in).

    Args:
        result: a result of ``circuit`` from the device, without classical post-processing
            (submit with ``postprocess=False``, the default: mitigation must come before it).
        circuit: the compiled circuit that was run (its Measure commands say which qubit
            each bit was read from), or that mapping itself (bit -> ``"QB<n>"``).
        metrics: the calibration set's quality metrics (``IQMBackend.quality_metrics``).

    Returns:
        Outcome (a tuple over ``result.c_bits``, as pytket's distributions) -> probability,
        summing to 1. Bits nothing was measured into are left uncorrected.

    Raises:
        InputError: the result carries a post-processing circuit, or its bits are not the
            circuit's.
    """
    if getattr(result, "_ppcirc", None) is not None:
        raise InputError(
            "This result has classical post-processing (postprocess=True), which must come "
            "after readout mitigation; submit the circuit with postprocess=False to mitigate."
        )
    bits = list(result.c_bits)
    sources = measured_qubits(circuit) if isinstance(circuit, Circuit) else dict(circuit)
    unknown = [str(bit) for bit in sources if bit not in set(bits)]
    if unknown:
        raise InputError(
            f"The circuit measures into bits {unknown}, which the result does not have; pass "
            "the compiled circuit this result came from."
        )
    counts = {
        "".join(map(str, outcome)): count for outcome, count in result.get_counts(bits).items()
    }
    corrected = mitigated_probabilities(counts, [sources.get(bit) for bit in bits], metrics)
    return {tuple(int(c) for c in outcome): p for outcome, p in corrected.items()}
