"""Readout-error mitigation from the published readout errors (opt-in, no pytket).

Each qubit's readout is a 2 x 2 confusion matrix ``A[read][prepared]`` built from the
calibration set's ``e01 = P(read 1 | prepared 0)`` and ``e10 = P(read 0 | prepared 1)``:
``[[1 - e01, e10], [e01, 1 - e10]]``. Assuming readout errors independent between qubits,
the device's confusion matrix is their tensor product, and its inverse is the tensor
product of the 2 x 2 inverses, so the measured distribution is corrected one qubit axis at
a time (never a ``2**n x 2**n`` matrix). Statistical noise can make some corrected
probabilities negative: they are set to 0 and the rest renormalised.

::

    metrics = await client.quality_metrics()
    counts = counts_from_arrays(result.measurement_arrays)[0].counts   # {"0110": 12, ...}
    probabilities = mitigated_probabilities(counts, ["QB3", "QB4", "QB8", "QB9"], metrics)

pytket users: :func:`iqm_async.compiler.mitigated_distribution` does the same for a
``BackendResult`` and the compiled circuit it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from .errors import InputError
from .quality import QualityMetrics

__all__ = [
    "MAX_MITIGATED_BITS",
    "confusion_matrix",
    "mitigated_counts",
    "mitigated_probabilities",
]

MAX_MITIGATED_BITS = 24
"""Bits per outcome at most: the corrected distribution is a dense array of ``2**bits``
floats (128 MiB at 24)."""


def confusion_matrix(metrics: QualityMetrics, qubit: str | None) -> npt.NDArray[np.float64]:
    """``A[read][prepared]`` of one qubit's readout; the identity (no correction) for
    ``None`` or when the calibration set publishes neither its readout errors nor its
    readout fidelity.

    With the fidelity ``F`` alone, both errors are taken as ``1 - F``.
    """
    if qubit is None:
        return np.eye(2)
    quality = metrics.qubit(qubit)
    e01, e10 = quality.readout_error_0_to_1, quality.readout_error_1_to_0
    if e01 is None or e10 is None:
        mean = quality.readout_error
        if mean is None:
            return np.eye(2)
        e01 = mean if e01 is None else e01
        e10 = mean if e10 is None else e10
    return np.array([[1.0 - e01, e10], [e01, 1.0 - e10]])


def _check(counts: Mapping[str, float], qubits: Sequence[str | None]) -> int:
    if isinstance(qubits, str):
        raise InputError(
            f"qubits must be a sequence of qubit names, one per bit, got the string {qubits!r}; "
            "pass a list such as ['QB1', 'QB2']."
        )
    n_bits = len(qubits)
    if n_bits > MAX_MITIGATED_BITS:
        raise InputError(
            f"Readout mitigation handles at most {MAX_MITIGATED_BITS} bits per outcome, got "
            f"{n_bits}; mitigate the marginals of fewer qubits."
        )
    for outcome, count in counts.items():
        if not isinstance(outcome, str) or len(outcome) != n_bits or set(outcome) - {"0", "1"}:
            raise InputError(
                f"Outcome {outcome!r} is not a string of {n_bits} '0'/'1' characters, one per "
                f"qubit of {list(qubits)}; give counts keyed like '0110'."
            )
        if isinstance(count, bool) or not isinstance(count, int | float) or not count >= 0:
            raise InputError(
                f"The count of outcome {outcome!r} is {count!r}; counts must be numbers >= 0."
            )
    return n_bits


def mitigated_probabilities(
    counts: Mapping[str, float], qubits: Sequence[str | None], metrics: QualityMetrics
) -> dict[str, float]:
    """The outcome distribution corrected for readout errors.

    Args:
        counts: outcome -> count (or probability), outcomes as bitstrings whose ``i``-th
            character is the bit read from ``qubits[i]``.
        qubits: the physical qubit read for each bit (``"QB3"``, ...); ``None`` for a bit
            no qubit was measured into (left uncorrected).
        metrics: the calibration set's quality metrics; a qubit without readout figures is
            left uncorrected.

    Returns:
        outcome -> probability, summing to 1, only outcomes with a probability above 0
        (sorted). Empty for empty counts.

    Raises:
        InputError: an outcome that is not one ``0``/``1`` per qubit, a negative count, or
            more than :data:`MAX_MITIGATED_BITS` qubits.
    """
    n_bits = _check(counts, qubits)
    total = float(sum(counts.values()))
    if total <= 0:
        return {}
    if n_bits == 0:
        return {"": 1.0}
    measured = np.zeros((2,) * n_bits)
    for outcome, count in counts.items():
        measured[tuple(int(bit) for bit in outcome)] += count
    measured /= total
    corrected = measured
    for axis, qubit in enumerate(qubits):
        inverse = np.linalg.inv(confusion_matrix(metrics, qubit))
        # Contract the inverse's "read" index with this qubit's axis; put the axis back.
        corrected = np.moveaxis(np.tensordot(inverse, corrected, axes=([1], [axis])), 0, axis)
    corrected = np.clip(corrected, 0.0, None)
    norm = corrected.sum()
    if norm <= 0:  # cannot happen for counts from a real device; keep the measured ones
        corrected, norm = measured, 1.0
    flat = corrected.reshape(-1) / norm
    found = np.flatnonzero(flat > 0)
    return {format(int(i), f"0{n_bits}b"): float(flat[i]) for i in found}


def mitigated_counts(
    counts: Mapping[str, float], qubits: Sequence[str | None], metrics: QualityMetrics
) -> dict[str, float]:
    """:func:`mitigated_probabilities` scaled to the number of shots (quasi-counts, floats).

    Same arguments and errors as :func:`mitigated_probabilities`.
    """
    shots = float(sum(counts.values())) if counts else 0.0
    probabilities = mitigated_probabilities(counts, qubits, metrics)
    return {outcome: p * shots for outcome, p in probabilities.items()}
