"""Server-side checks of a run request against the chip (pure functions, no I/O).

What a real server rejects at submit with HTTP 400 and ``{"detail": ...}`` raises
:class:`RequestRejected` here: an unparsable or schema-violating body (missing fields, shots
< 1, unknown gate names, duplicate measurement keys, a mapping that does not cover the circuit:
all caught by :class:`iqm_async.models.RunRequest`), more shots than the server allows, an
unknown calibration set, qubits the chip does not have, a gate the calibration set does not
offer, a locus it is not calibrated for (a cz on an uncoupled pair), a MOVE sandwich that
``move_validation_mode`` forbids, and a ``cc_prx`` without an earlier measure of its key.

What a real server only notices while running the batch makes the job ``failed`` with a
message instead (:func:`batch_failure`): circuits of one batch that measure different qubits,
and circuits beyond the simulator's size.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from ..metadata import MoveGateValidationMode
from ..models import MEASURE_NAMES, PRX_NAMES, Circuit, Instruction, Locus, RunRequest
from .architectures import Architecture
from .simulator import MAX_QUBITS

__all__ = [
    "RequestRejected",
    "batch_failure",
    "describe_validation_error",
    "map_circuit",
    "parse_run_request",
    "validate_run_request",
]

# Operations that need no calibration, only existing components (as in iqm-client 22.x).
_NO_CALIBRATION = frozenset({"barrier", "delay", "reset"})
# Operations checked component by component against the union of their loci.
_FACTORIZABLE = frozenset({"measure", "prx", "cc_prx"})
_CANONICAL = {"phased_rx": "prx", "measurement": "measure"}


class RequestRejected(Exception):
    """A submit the server refuses; ``detail`` is the text of the 400 reply."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field path (``circuits.0.instructions.2: ...``)."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "Invalid run request: " + "; ".join(parts)


def parse_run_request(body: bytes) -> RunRequest:
    """Parse a submit body; raise :class:`RequestRejected` naming the bad field."""
    try:
        return RunRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestRejected(describe_validation_error(exc)) from None


def map_circuit(circuit: Circuit, mapping: Mapping[str, str]) -> Circuit:
    """The circuit with logical qubit names replaced by physical ones (old names kept)."""
    if all(logical == physical for logical, physical in mapping.items()):
        # Nothing to rename (no mapping, or pytket backends' identity QBn -> QBn): copying
        # every instruction was most of the submit time of large batches.
        return circuit
    instructions = tuple(
        inst.model_copy(update={"qubits": tuple(mapping[q] for q in inst.qubits)})
        if inst.name != "cc_prx"
        else inst.model_copy(
            update={
                "qubits": tuple(mapping[q] for q in inst.qubits),
                "args": {
                    **inst.args,
                    "feedback_qubit": mapping.get(
                        inst.args["feedback_qubit"], inst.args["feedback_qubit"]
                    ),
                },
            }
        )
        for inst in circuit.instructions
    )
    return circuit.model_copy(update={"instructions": instructions})


def _allowed_loci(arch: Architecture, inst: Instruction, name: str, where: str) -> frozenset[Locus]:
    gate = arch.dqa.gates.get(name)
    if gate is None:
        raise RequestRejected(
            f"{where}: operation '{inst.name}' is not calibrated on this QPU; the calibrated "
            f"operations are {', '.join(sorted(arch.dqa.gates))}"
        )
    if inst.implementation is not None and inst.implementation not in gate.implementations:
        raise RequestRejected(
            f"{where}: '{name}' has no implementation '{inst.implementation}'; use one of "
            f"{', '.join(sorted(gate.implementations))} or leave it out"
        )
    return arch.allowed_loci(name, inst.implementation)


def _check_instruction(arch: Architecture, inst: Instruction, where: str) -> None:
    name = _CANONICAL.get(inst.name, inst.name)
    components = arch.components
    for qubit in inst.qubits:
        if qubit not in components:
            raise RequestRejected(
                f"{where}: '{inst.name}' acts on '{qubit}', which this QPU does not have "
                f"(it has {len(components)} components: {', '.join(arch.dqa.qubits[:3])}, ...); "
                "check the qubit names or the qubit_mapping"
            )
    if name in _NO_CALIBRATION:
        return
    loci = _allowed_loci(arch, inst, name, where)
    if name in _FACTORIZABLE:
        if len(inst.qubits) == 1 and tuple(inst.qubits) in loci:
            return  # the common case: a calibrated single-qubit locus
        allowed = {q for locus in loci for q in locus}
        for qubit in inst.qubits:
            if qubit not in allowed:
                raise RequestRejected(f"{where}: '{name}' is not calibrated on '{qubit}'")
        return
    if tuple(inst.qubits) not in loci:
        pair = ", ".join(inst.qubits)
        raise RequestRejected(
            f"{where}: '{name}' on ({pair}) is not calibrated: the pair is not coupled on this "
            "QPU. Route the circuit onto coupled qubits (see the calibrated loci in the DQA)"
        )


def _check_moves(
    arch: Architecture, circuit: Circuit, mode: MoveGateValidationMode, where: str
) -> None:
    if mode is MoveGateValidationMode.NONE:
        return
    allowed_inside = {"barrier"}
    if mode is MoveGateValidationMode.ALLOW_PRX:
        allowed_inside |= PRX_NAMES
    resonators = set(arch.dqa.computational_resonators)
    holder: dict[str, str] = {}  # resonator -> qubit whose state it holds
    for index, inst in enumerate(circuit.instructions):
        if inst.name == "move":
            qubit, resonator = inst.qubits
            if resonator not in resonators:
                raise RequestRejected(
                    f"{where}.instructions.{index}: move must be (qubit, resonator), got "
                    f"{list(inst.qubits)}"
                )
            current = holder.get(resonator)
            if current is None:
                if qubit in holder.values():
                    raise RequestRejected(
                        f"{where}.instructions.{index}: the state of '{qubit}' is already in "
                        "another resonator"
                    )
                holder[resonator] = qubit
            elif current != qubit:
                raise RequestRejected(
                    f"{where}.instructions.{index}: resonator '{resonator}' already holds the "
                    f"state of '{current}'"
                )
            else:
                del holder[resonator]
        elif holder and inst.name not in allowed_inside:
            moved = set(holder.values()).intersection(inst.qubits)
            if moved:
                raise RequestRejected(
                    f"{where}.instructions.{index}: '{inst.name}' acts on {sorted(moved)} while "
                    "its state is in a resonator (move_validation_mode "
                    f"'{mode.value}')"
                )


def _check_feedback(circuit: Circuit, where: str) -> None:
    seen: set[tuple[str, str]] = set()
    for index, inst in enumerate(circuit.instructions):
        if inst.name in MEASURE_NAMES and "feedback_key" in inst.args:
            seen.update((inst.args["feedback_key"], q) for q in inst.qubits)
        elif inst.name == "cc_prx":
            source = (inst.args["feedback_key"], inst.args["feedback_qubit"])
            if source not in seen:
                raise RequestRejected(
                    f"{where}.instructions.{index}: cc_prx uses feedback_key '{source[0]}' of "
                    f"qubit '{source[1]}', which no earlier measure provides"
                )


def validate_run_request(
    request: RunRequest, arch: Architecture, *, max_shots: int
) -> list[Circuit]:
    """Check ``request`` against the chip; return its circuits mapped to physical qubits.

    Raises:
        RequestRejected: with the 400 detail, for anything a server refuses at submit.
    """
    if request.shots > max_shots:
        raise RequestRejected(
            f"shots: {request.shots} shots exceed this server's limit of {max_shots} per job; "
            "lower the shot count or split the job"
        )
    if (
        request.calibration_set_id is not None
        and str(request.calibration_set_id) != arch.calibration_set_id
    ):
        raise RequestRejected(
            f"calibration_set_id: unknown calibration set {request.calibration_set_id}; use "
            f"{arch.calibration_set_id} or leave it out for the default"
        )
    mapping: dict[str, str] = {}
    for entry in request.qubit_mapping or []:
        if entry.physical_name not in arch.components:
            raise RequestRejected(
                f"qubit_mapping: '{entry.logical_name}' is mapped to '{entry.physical_name}', "
                "which this QPU does not have"
            )
        mapping[entry.logical_name] = entry.physical_name
    mapped = []
    for c_index, circuit in enumerate(request.circuits):
        physical = map_circuit(circuit, mapping)
        where = f"circuits.{c_index}"
        for i_index, inst in enumerate(physical.instructions):
            _check_instruction(arch, inst, f"{where}.instructions.{i_index}")
        _check_moves(arch, physical, request.move_validation_mode, where)
        _check_feedback(physical, where)
        mapped.append(physical)
    return mapped


def batch_failure(circuits: list[Circuit]) -> str | None:
    """Why running this (valid) batch fails on the server, or ``None`` if it runs."""
    measured = [
        frozenset(q for inst in c.instructions if inst.name in MEASURE_NAMES for q in inst.qubits)
        for c in circuits
    ]
    if any(m != measured[0] for m in measured[1:]):
        return (
            "Batch execution failed: all circuits of a batch must measure the same qubits; "
            "submit circuits that measure different qubits as separate jobs"
        )
    for circuit in circuits:
        if len(circuit.qubits) > MAX_QUBITS:
            return (
                f"Circuit '{circuit.name}' touches {len(circuit.qubits)} qubits; the emulator "
                f"simulates at most {MAX_QUBITS} per circuit"
            )
    return None
