"""Which physical qubit each bit of a submitted circuit was read from, recovered from the
job's request echo, for readout mitigation by handle (private)."""

from __future__ import annotations

from pytket.circuit import Bit

from ..compiler import MeasurementLayout
from ..errors import InvalidResponseError
from ..models import MEASURE_NAMES, Metadata

__all__ = ["measured_sources"]


def measured_sources(
    job_id: str, index: int, layout: MeasurementLayout, metadata: Metadata
) -> dict[Bit, str]:
    """Bit -> physical qubit (``"QB<n>"``) for circuit ``index`` of job ``job_id``.

    The layout (from the handle) says which bit each measurement key fills; the request the
    server echoes says which qubit each key measured, through its qubit mapping if it has
    one.

    Raises:
        InvalidResponseError: the metadata has no request, no circuit ``index``, or a
            measurement of several qubits under one key.
    """
    request = metadata.request
    if request is None or index >= len(request.circuits):
        raise InvalidResponseError(
            f"The server's metadata of job {job_id} does not include circuit {index} of its "
            "request, so which qubit each bit was read from is unknown; mitigate with "
            "compiler.mitigated_distribution(result, compiled_circuit, metrics) instead."
        )
    physical = {m.logical_name: m.physical_name for m in request.qubit_mapping or ()}
    qubit_of_key: dict[str, str] = {}
    for instruction in request.circuits[index].instructions:
        if instruction.name not in MEASURE_NAMES:
            continue
        key = str(instruction.args.get("key"))
        if len(instruction.qubits) != 1:
            raise InvalidResponseError(
                f"Job {job_id} measures {len(instruction.qubits)} qubits under key {key!r}; "
                "this backend submits one qubit per key, so the request echo is not its."
            )
        qubit = instruction.qubits[0]
        qubit_of_key[key] = physical.get(qubit, qubit)
    bits = [Bit(name, list(indices)) for name, indices in layout["bits"]]
    return {
        bits[column]: qubit_of_key[key]
        for key, column in layout["keys"].items()
        if key in qubit_of_key
    }
