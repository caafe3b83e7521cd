"""The IQM Server API v1 submit body (CircuitJobDefinition) and its conversion (no I/O).

The server-side model of SERVER_API.md section 3: instructions name their ``locus``, ``prx``
angles are radians, nulls are allowed wherever iqm-client 36 sends them, and the option names
``move_gate_validation`` / ``move_gate_frame_tracking`` come with their deprecated echoes
``move_validation_mode`` / ``move_gate_frame_tracking_mode`` (either name is accepted; when
both are given they must agree). :func:`to_run_request` turns a definition into the
emulator's internal :class:`~iqm_async.models.RunRequest` (angles in turns, ``qubits``), so
the V1 validation and simulator serve both APIs. :func:`definition_json` goes the other way,
for the ``payload`` echo of any job.
"""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..metadata import (
    DDMode,
    HeraldingMode,
    MoveGateFrameTrackingMode,
    MoveGateValidationMode,
    SingleQubitMapping,
)
from ..models import RunRequest
from .validation import RequestRejected, describe_validation_error

__all__ = ["CircuitJobDefinition", "definition_json", "parse_definition", "to_run_request"]

_TURN = 2 * math.pi
_ANGLE_ARGS = {"angle": "angle_t", "phase": "phase_t"}
_WITH_ANGLES = frozenset({"prx", "cc_prx"})
_STRICT = ConfigDict(extra="forbid")


class _Instruction(BaseModel):
    model_config = _STRICT

    name: str
    locus: list[str]
    args: dict[str, Any] = Field(default_factory=dict)
    implementation: str | None = None


class _Circuit(BaseModel):
    model_config = _STRICT

    name: str
    instructions: list[_Instruction]
    metadata: dict[str, Any] | None = None


class CircuitJobDefinition(BaseModel):
    """The body of ``POST /api/v1/jobs/{qc}/circuit`` as the server reads it.

    ``circuits`` may hold QIR strings on a real server; the emulator refuses them (400).
    ``qubit_mapping`` is the wire list of ``{logical_name, physical_name}`` or a dict.
    """

    model_config = _STRICT

    circuits: list[_Circuit | str] = Field(min_length=1)
    calibration_set_id: UUID | None = None
    qubit_mapping: list[SingleQubitMapping] | dict[str, str] | None = None
    shots: int = 1
    max_circuit_duration_over_t2: float | None = None
    heralding_mode: HeraldingMode = HeraldingMode.NONE
    move_gate_validation: MoveGateValidationMode | None = None
    move_gate_frame_tracking: MoveGateFrameTrackingMode | None = None
    active_reset_cycles: int | None = None
    dd_mode: DDMode = DDMode.DISABLED
    dd_strategy: dict[str, Any] | None = None
    move_validation_mode: MoveGateValidationMode | None = None
    """Deprecated name of ``move_gate_validation`` (iqm-client sends both)."""
    move_gate_frame_tracking_mode: MoveGateFrameTrackingMode | None = None
    """Deprecated name of ``move_gate_frame_tracking`` (iqm-client sends both)."""

    @model_validator(mode="after")
    def _merge_old_names(self) -> CircuitJobDefinition:
        pairs = (
            ("move_gate_validation", "move_validation_mode", MoveGateValidationMode.STRICT),
            (
                "move_gate_frame_tracking",
                "move_gate_frame_tracking_mode",
                MoveGateFrameTrackingMode.FULL,
            ),
        )
        for new, old, default in pairs:
            new_value, old_value = getattr(self, new), getattr(self, old)
            if new_value is not None and old_value is not None and new_value != old_value:
                raise ValueError(
                    f"{new} '{new_value.value}' and its old name {old} '{old_value.value}' "
                    "disagree; send one of them"
                )
            value = new_value if new_value is not None else old_value
            value = default if value is None else value
            setattr(self, new, value)
            setattr(self, old, value)
        return self

    @property
    def mapping(self) -> list[SingleQubitMapping] | None:
        """The qubit mapping in the wire list form."""
        if isinstance(self.qubit_mapping, dict):
            return [
                SingleQubitMapping(logical_name=lo, physical_name=ph)
                for lo, ph in self.qubit_mapping.items()
            ]
        return self.qubit_mapping


def parse_definition(body: bytes) -> CircuitJobDefinition:
    """Parse a submit body; raise :class:`RequestRejected` naming the bad field."""
    try:
        return CircuitJobDefinition.model_validate_json(body)
    except ValidationError as exc:
        raise RequestRejected(describe_validation_error(exc)) from None


def _internal_args(inst: _Instruction, where: str) -> dict[str, Any]:
    if inst.name not in _WITH_ANGLES:
        return inst.args
    args = dict(inst.args)
    for radians_name, turns_name in _ANGLE_ARGS.items():
        if radians_name not in args:
            continue  # the RunRequest model names the missing argument
        value = args.pop(radians_name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestRejected(
                f"{where}.args: '{inst.name}' argument '{radians_name}' must be a number of "
                f"radians, got {value!r}"
            )
        args[turns_name] = value / _TURN
    return args


def to_run_request(definition: CircuitJobDefinition) -> RunRequest:
    """The emulator's internal request for ``definition`` (angles in turns).

    Raises:
        RequestRejected: QIR circuits, non-numeric angles, or anything the
            :class:`~iqm_async.models.RunRequest` model refuses (unknown operations, arity,
            duplicate measurement keys, shots < 1, a mapping that does not cover a circuit).
    """
    circuits = []
    for c_index, circuit in enumerate(definition.circuits):
        if isinstance(circuit, str):
            raise RequestRejected(
                f"circuits.{c_index}: QIR circuits are not supported by the emulator; send "
                "circuits of native instructions"
            )
        instructions = []
        for i_index, inst in enumerate(circuit.instructions):
            where = f"circuits.{c_index}.instructions.{i_index}"
            entry: dict[str, Any] = {
                "name": inst.name,
                "qubits": inst.locus,
                "args": _internal_args(inst, where),
            }
            if inst.implementation is not None:
                entry["implementation"] = inst.implementation
            instructions.append(entry)
        circuits.append(
            {"name": circuit.name, "instructions": instructions, "metadata": circuit.metadata}
        )
    mapping = definition.mapping
    body = {
        "circuits": circuits,
        "shots": definition.shots,
        "qubit_mapping": None if mapping is None else [m.model_dump() for m in mapping],
        "calibration_set_id": definition.calibration_set_id,
        "max_circuit_duration_over_t2": definition.max_circuit_duration_over_t2,
        "heralding_mode": definition.heralding_mode,
        "move_validation_mode": definition.move_gate_validation,
        "move_gate_frame_tracking_mode": definition.move_gate_frame_tracking,
        "active_reset_cycles": definition.active_reset_cycles,
        "dd_mode": definition.dd_mode,
        "dd_strategy": definition.dd_strategy,
    }
    try:
        return RunRequest.model_validate(body)
    except ValidationError as exc:
        raise RequestRejected(describe_validation_error(exc)) from None


def definition_json(request: RunRequest) -> bytes:
    """The era-F definition of an internal request (angles in radians), as JSON bytes."""
    circuits = []
    for circuit in request.circuits:
        instructions = []
        for inst in circuit.instructions:
            args = dict(inst.args)
            if inst.name in _WITH_ANGLES or inst.name == "phased_rx":
                for radians_name, turns_name in _ANGLE_ARGS.items():
                    args[radians_name] = float(args.pop(turns_name)) * _TURN
            instructions.append(
                {
                    "name": inst.name,
                    "locus": list(inst.qubits),
                    "args": args,
                    "implementation": inst.implementation,
                }
            )
        circuits.append(
            {"name": circuit.name, "instructions": instructions, "metadata": circuit.metadata}
        )
    definition = CircuitJobDefinition.model_validate(
        {
            "circuits": circuits,
            "calibration_set_id": request.calibration_set_id,
            "qubit_mapping": request.qubit_mapping,
            "shots": request.shots,
            "max_circuit_duration_over_t2": request.max_circuit_duration_over_t2,
            "heralding_mode": request.heralding_mode,
            "move_gate_validation": request.move_validation_mode,
            "move_gate_frame_tracking": request.move_gate_frame_tracking_mode,
            "active_reset_cycles": request.active_reset_cycles,
            "dd_mode": request.dd_mode,
            "dd_strategy": request.dd_strategy,
        }
    )
    return definition.model_dump_json().encode()
