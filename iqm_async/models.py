"""Pydantic v2 models of the IQM wire format that every server API shares (PROTOCOL.md 2.1-2.5):
circuits and their instructions, the V1 run request, job metadata, the quantum architectures.

Requests (:class:`Instruction`, :class:`Circuit`, :class:`RunRequest`) are strict: unknown
fields and malformed values are rejected with a message naming the field. Responses
(architectures) are tolerant: unknown fields are ignored, so a server upgrade never breaks a
running client. Job status and result replies belong to one server API each and live with it
(:mod:`iqm_async.api`).

``to_wire()`` gives the JSON-ready dict to send or serve: requests leave out ``None`` fields
(as iqm-client 22.x does), responses keep exactly the fields that were set. Requests also have
``to_wire_json()``, the same body as JSON bytes.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    Field,
    Strict,
    StrictInt,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from .metadata import (
    STRICT,
    TOLERANT,
    DDMode,
    HeraldingMode,
    JobParameters,
    MoveGateFrameTrackingMode,
    MoveGateValidationMode,
    RequestEcho,
    SingleQubitMapping,
    mapping_from_wire,
)

__all__ = [
    "CLIENT_LIBRARIES",
    "Circuit",
    "ClientLibrary",
    "Count",
    "DynamicQuantumArchitecture",
    "GateImplementationInfo",
    "GateInfo",
    "Instruction",
    "MeasurementBit",
    "Metadata",
    "QuantumArchitectureSpecification",
    "RequestModel",
    "ResponseModel",
    "RunRequest",
    "check_finite_args",
    "request_from_echo",
]

Locus = tuple[str, ...]

MeasurementBit = Annotated[int, Strict(), Field(ge=0, le=1)]
"""One measured bit in a reply: exactly the integer 0 or 1 (not ``true``, ``1.0``, ``"1"``
or 2, which lax parsing would read as a bit or pass on as data)."""

Count = Annotated[int, Strict(), Field(ge=0)]
"""How many shots gave one bitstring in a counts reply: an integer >= 0."""


class RequestModel(BaseModel):
    """Base of request models: strict (unknown fields and malformed values are refused)."""

    model_config = STRICT

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body, ``None`` fields left out (the format iqm-client 22.x sends)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_wire_json(self) -> bytes:
        """:meth:`to_wire` serialised to JSON bytes in one step (several times faster)."""
        return self.model_dump_json(exclude_none=True).encode()


class ResponseModel(BaseModel):
    """Base of response models: tolerant (unknown fields are ignored)."""

    model_config = TOLERANT

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body with exactly the fields that were set (nulls included)."""
        return self.model_dump(mode="json", exclude_unset=True)


# --- circuits ---------------------------------------------------------------------------------


class _GateSpec:
    """Arity and arguments of one native operation (no I/O, used by the validator)."""

    def __init__(
        self,
        arity: int,
        required: dict[str, tuple[type, ...]] | None = None,
        optional: dict[str, tuple[type, ...]] | None = None,
    ) -> None:
        self.arity = arity  # 0 means "one or more"
        self.required = required or {}
        self.optional = optional or {}
        self.allowed = self.required | self.optional


_NUMBER: tuple[type, ...] = (int, float)
_PRX_ARGS: dict[str, tuple[type, ...]] = {"angle_t": _NUMBER, "phase_t": _NUMBER}

# Old names (era A, sent by pytket-iqm <= 0.15) are accepted as synonyms.
GATE_SPECS: dict[str, _GateSpec] = {
    "prx": _GateSpec(1, _PRX_ARGS),
    "phased_rx": _GateSpec(1, _PRX_ARGS),
    "cz": _GateSpec(2),
    "move": _GateSpec(2),
    "measure": _GateSpec(0, {"key": (str,)}, {"feedback_key": (str,)}),
    "measurement": _GateSpec(0, {"key": (str,)}, {"feedback_key": (str,)}),
    "barrier": _GateSpec(0),
    "cc_prx": _GateSpec(1, {**_PRX_ARGS, "feedback_key": (str,), "feedback_qubit": (str,)}),
    "reset": _GateSpec(0),
    "delay": _GateSpec(0, {"duration": _NUMBER}),
}
MEASURE_NAMES = frozenset({"measure", "measurement"})
PRX_NAMES = frozenset({"prx", "phased_rx"})


class Instruction(RequestModel):
    """One native operation on a locus of qubits.

    ``prx`` takes ``angle_t`` and ``phase_t`` in full turns (1.0 = 2π); ``measure`` takes a
    ``key`` unique within its circuit; ``cz`` and ``move`` act on two components; ``barrier``
    on one or more. ``args`` is always sent, even when empty.
    """

    name: str
    qubits: Locus = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    implementation: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _check_gate(self) -> Instruction:
        spec = GATE_SPECS.get(self.name)
        if spec is None:
            raise ValueError(
                f"name: unknown operation '{self.name}'; the native operations are "
                f"{', '.join(sorted(GATE_SPECS))}"
            )
        if spec.arity and len(self.qubits) != spec.arity:
            raise ValueError(
                f"qubits: '{self.name}' acts on {spec.arity} qubit(s), got {len(self.qubits)} "
                f"{list(self.qubits)}"
            )
        if len(self.qubits) > 1 and len(set(self.qubits)) != len(self.qubits):
            raise ValueError(f"qubits: '{self.name}' names a qubit twice: {list(self.qubits)}")
        for arg in spec.required:
            if arg not in self.args:
                raise ValueError(f"args: '{self.name}' requires argument '{arg}'")
        allowed = spec.allowed
        for arg, value in self.args.items():
            if arg not in allowed:
                raise ValueError(f"args: '{self.name}' does not take argument '{arg}'")
            if isinstance(value, bool) or not isinstance(value, allowed[arg]):
                names = " or ".join(t.__name__ for t in allowed[arg])
                raise ValueError(
                    f"args: '{self.name}' argument '{arg}' must be {names}, got {value!r}"
                )
        check_finite_args(self)
        return self


def check_finite_args(inst: Instruction) -> None:
    """Refuse a NaN or infinite angle or duration: JSON has no such number, so it would go
    out as ``null`` (V1) or fail in the angle conversion (IQM Server API).

    Raises:
        ValueError: naming the argument (``args: ...``).
    """
    for arg, value in inst.args.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(
                f"args: '{inst.name}' argument '{arg}' must be a finite number, got {value!r}"
            )


class Circuit(RequestModel):
    """A named quantum circuit of native instructions; measurement keys are unique."""

    name: str = Field(min_length=1)
    instructions: tuple[Instruction, ...] = Field(min_length=1)
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_measurement_keys(self) -> Circuit:
        seen: set[str] = set()
        for inst in self.instructions:
            if inst.name in MEASURE_NAMES:
                key = inst.args["key"]
                if key in seen:
                    raise ValueError(
                        f"instructions: measurement key '{key}' is used twice in circuit "
                        f"'{self.name}'; keys must be unique"
                    )
                seen.add(key)
        return self

    @property
    def measurement_keys(self) -> list[str]:
        """The measurement keys in the order the circuit measures them."""
        return [i.args["key"] for i in self.instructions if i.name in MEASURE_NAMES]

    @property
    def qubits(self) -> list[str]:
        """All qubit names the circuit touches, in order of first use."""
        return list(dict.fromkeys(q for inst in self.instructions for q in inst.qubits))


class RunRequest(RequestModel):
    """The body of ``POST jobs``: a batch of circuits run with the same shots and options."""

    circuits: list[Circuit] = Field(min_length=1)
    shots: StrictInt = Field(gt=0)
    qubit_mapping: list[SingleQubitMapping] | None = None
    calibration_set_id: UUID | None = None
    custom_settings: dict[str, Any] | None = None
    max_circuit_duration_over_t2: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    heralding_mode: HeraldingMode = HeraldingMode.NONE
    move_validation_mode: MoveGateValidationMode = MoveGateValidationMode.STRICT
    move_gate_frame_tracking_mode: MoveGateFrameTrackingMode = MoveGateFrameTrackingMode.FULL
    active_reset_cycles: int | None = None
    dd_mode: DDMode = DDMode.DISABLED
    dd_strategy: dict[str, Any] | None = None
    circuit_duration_check: bool | None = None
    """Era-A (iqm-client 12.4-15.x) predecessor of ``max_circuit_duration_over_t2``."""

    @field_validator("qubit_mapping")
    @classmethod
    def _check_mapping(
        cls, entries: list[SingleQubitMapping] | None
    ) -> list[SingleQubitMapping] | None:
        if entries is None:
            return None
        logical: set[str] = set()
        physical: set[str] = set()
        for entry in entries:
            if entry.logical_name in logical:
                raise ValueError(f"logical qubit '{entry.logical_name}' is mapped twice")
            if entry.physical_name in physical:
                raise ValueError(
                    f"physical qubit '{entry.physical_name}' is the target of two logical qubits"
                )
            logical.add(entry.logical_name)
            physical.add(entry.physical_name)
        return entries

    @property
    def qubit_mapping_dict(self) -> dict[str, str]:
        """The qubit mapping as ``{logical: physical}`` (empty if none was given)."""
        return mapping_from_wire(self.qubit_mapping or [])

    @model_validator(mode="after")
    def _check_options(self) -> RunRequest:
        # Circuits given as models are not validated again (model_construct, or built before
        # their args were changed): their numbers are checked here, before any request.
        for index, circuit in enumerate(self.circuits):
            for position, inst in enumerate(circuit.instructions):
                try:
                    check_finite_args(inst)
                except ValueError as exc:
                    raise ValueError(f"circuits.{index}.instructions.{position}.{exc}") from None
        if (
            self.move_gate_frame_tracking_mode is MoveGateFrameTrackingMode.FULL
            and self.move_validation_mode is MoveGateValidationMode.NONE
        ):
            raise ValueError(
                "move_gate_frame_tracking_mode: 'full' needs move_validation_mode 'strict' or "
                "'allow_prx'"
            )
        if self.qubit_mapping is not None:
            mapped = {e.logical_name for e in self.qubit_mapping}
            for circuit in self.circuits:
                missing = [q for q in circuit.qubits if q not in mapped]
                if missing:
                    raise ValueError(
                        f"qubit_mapping: circuit '{circuit.name}' uses qubits {missing} "
                        "that the mapping does not cover"
                    )
        return self


# --- job metadata -----------------------------------------------------------------------------

_INSTRUCTION_FIELDS = frozenset(Instruction.model_fields)


def _locus_as_tuple(instruction: dict[str, Any]) -> dict[str, Any]:
    qubits = instruction.get("qubits")
    return {**instruction, "qubits": tuple(qubits)} if isinstance(qubits, list) else instruction


def request_from_echo(echo: RequestEcho) -> RunRequest:
    """The :class:`RunRequest` a server echoed (no I/O).

    The echo was read tolerantly (unknown fields dropped) and is validated like a request
    we send. An echo that fails those checks (an older server's defaults, a request another
    client made) is still what the server ran, so it is kept as echoed, unvalidated, rather
    than making the job's metadata unreadable.
    """
    instructions = [
        [{k: v for k, v in i.items() if k in _INSTRUCTION_FIELDS} for i in circuit.instructions]
        for circuit in echo.circuits
    ]
    fields = echo.model_dump(exclude_none=True, exclude={"circuits"})
    # A circuit's metadata is kept only when echoed, so the echo dumps as it was sent.
    circuits: list[dict[str, Any]] = [
        {"name": circuit.name, "instructions": kept}
        | ({} if circuit.metadata is None else {"metadata": circuit.metadata})
        for circuit, kept in zip(echo.circuits, instructions, strict=True)
    ]
    try:
        return RunRequest.model_validate({**fields, "circuits": circuits})
    except ValidationError:
        return RunRequest.model_construct(
            **{name: getattr(echo, name) for name in fields},
            circuits=[
                Circuit.model_construct(
                    **{
                        **circuit,
                        "instructions": tuple(
                            Instruction.model_construct(**_locus_as_tuple(i))
                            for i in circuit["instructions"]
                        ),
                    }
                )
                for circuit in circuits
            ],
        )


class Metadata(BaseModel):
    """Metadata of a job: calibration set, the request it ran, version and timestamps.

    ``request`` is the server's echo of the job's request as a :class:`RunRequest` (as
    pytket-iqm's users read it: ``metadata.request.qubit_mapping``, ``.shots``, ...). Every
    field is optional: servers of different versions fill in different parts.
    """

    model_config = TOLERANT

    calibration_set_id: UUID | None = None
    request: RunRequest | None = None
    parameters: JobParameters | None = None
    circuits_batch: list[dict[str, Any]] | None = None
    cocos_version: str | None = None
    timestamps: dict[str, str] | None = None

    @field_validator("request", mode="wrap")
    @classmethod
    def _read_echo(cls, value: object, _handler: ValidatorFunctionWrapHandler) -> object:
        # Read tolerantly first (RequestEcho), then as the request model. The default
        # validation is never run: it would check again a request kept as echoed.
        if value is None or isinstance(value, RunRequest):
            return value
        echo = value if isinstance(value, RequestEcho) else RequestEcho.model_validate(value)
        return request_from_echo(echo)


# --- architectures ----------------------------------------------------------------------------


class QuantumArchitectureSpecification(ResponseModel):
    """The old quantum architecture: operations (dict form, or the pre-17.0 list of names)."""

    name: str
    operations: dict[str, list[list[str]]] | list[str]
    qubits: list[str]
    qubit_connectivity: list[list[str]]

    def operation_loci(self) -> dict[str, list[list[str]]]:
        """Operations in dict form, expanding the old list form as iqm-client 17.1+ does."""
        if isinstance(self.operations, dict):
            return self.operations
        return {
            op: (
                [list(pair) for pair in self.qubit_connectivity]
                if op in ("cz", "move")
                else [[q] for q in self.qubits]
            )
            for op in self.operations
        }


class GateImplementationInfo(ResponseModel):
    """The loci one implementation of a gate is calibrated for."""

    loci: list[Locus]


class GateInfo(ResponseModel):
    """A gate's implementations, its default, and per-locus overrides (keys ``"QB1,QB2"``)."""

    implementations: dict[str, GateImplementationInfo]
    default_implementation: str
    override_default_implementation: dict[str, str] = Field(default_factory=dict)

    @property
    def loci(self) -> list[Locus]:
        """The union of the loci of all implementations, in first-seen order."""
        return list(
            dict.fromkeys(locus for impl in self.implementations.values() for locus in impl.loci)
        )

    def implementation_for(self, locus: Locus) -> str:
        """The implementation the server uses for ``locus`` when none is named."""
        return self.override_default_implementation.get(
            ",".join(locus), self.default_implementation
        )


class DynamicQuantumArchitecture(ResponseModel):
    """The dynamic quantum architecture: what one calibration set can run."""

    calibration_set_id: UUID
    qubits: list[str]
    computational_resonators: list[str] = Field(default_factory=list)
    gates: dict[str, GateInfo]

    def loci(self, gate: str) -> list[Locus]:
        """Calibrated loci of ``gate`` (empty if the gate is not calibrated)."""
        info = self.gates.get(gate)
        return info.loci if info else []

    @property
    def couplings(self) -> list[tuple[str, str]]:
        """Qubit pairs with a calibrated ``cz``, each pair once, in first-seen order."""
        pairs: dict[frozenset[str], tuple[str, str]] = {}
        for locus in self.loci("cz"):
            if len(locus) == 2:
                pairs.setdefault(frozenset(locus), (locus[0], locus[1]))
        return list(pairs.values())


class ClientLibrary(ResponseModel):
    """One entry of ``GET info/client-libraries``: the supported version range of a client."""

    name: str
    package_name: str | None = None
    repo_url: str | None = None
    package_url: str | None = None
    min: str
    max: str


CLIENT_LIBRARIES: TypeAdapter[dict[str, ClientLibrary]] = TypeAdapter(dict[str, ClientLibrary])
"""Parses the whole ``info/client-libraries`` reply (keys ``iqm-client``, ``iqm_client``, ...)."""
