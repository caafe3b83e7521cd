"""Qubit-mapping and job-option models, the tolerant request echo, and the pytket ``Node`` <->
IQM qubit-name helpers.

``models`` builds on this module (never the other way round), so :class:`RequestEcho` keeps
its circuits as plain JSON objects; ``models.Metadata`` turns it into a ``RunRequest``. pytket
is imported only inside the Node helpers, so importing this module does not load pytket.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .errors import CircuitValidationError, ConfigurationError

if TYPE_CHECKING:
    from pytket.circuit import Node

__all__ = [
    "CircuitEcho",
    "DDMode",
    "HeraldingMode",
    "JobParameters",
    "MoveGateFrameTrackingMode",
    "MoveGateValidationMode",
    "RequestEcho",
    "SingleQubitMapping",
    "mapping_from_wire",
    "mapping_to_wire",
    "node_to_qubit_name",
    "qubit_name_to_node",
]

# Responses are read tolerantly: a server may add fields before clients learn of them.
TOLERANT = ConfigDict(extra="ignore", populate_by_name=True)
# Requests are written strictly: a misspelt option must fail here, not be dropped silently.
STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class HeraldingMode(str, Enum):
    """Heralding (post-selection) mode of a job."""

    NONE = "none"
    ZEROS = "zeros"


class MoveGateValidationMode(str, Enum):
    """How strictly the server checks MOVE sandwiches on resonator chips."""

    STRICT = "strict"
    ALLOW_PRX = "allow_prx"
    NONE = "none"


class MoveGateFrameTrackingMode(str, Enum):
    """Frame tracking applied to MOVE gates."""

    FULL = "full"
    NO_DETUNING_CORRECTION = "no_detuning_correction"
    NONE = "none"


class DDMode(str, Enum):
    """Dynamical decoupling on or off."""

    DISABLED = "disabled"
    ENABLED = "enabled"


class SingleQubitMapping(BaseModel):
    """One entry of a qubit mapping: a logical qubit name and the physical qubit it runs on."""

    model_config = STRICT

    logical_name: str = Field(min_length=1)
    physical_name: str = Field(min_length=1)


def mapping_to_wire(mapping: Mapping[str, str]) -> list[SingleQubitMapping]:
    """Turn ``{logical: physical}`` into the wire list, rejecting two logicals on one physical."""
    seen: dict[str, str] = {}
    for logical, physical in mapping.items():
        if physical in seen:
            raise ConfigurationError(
                f"Qubit mapping is not injective: '{seen[physical]}' and '{logical}' are both "
                f"mapped to physical qubit '{physical}'. Map each logical qubit to its own "
                "physical qubit."
            )
        seen[physical] = logical
    return [SingleQubitMapping(logical_name=lo, physical_name=ph) for lo, ph in mapping.items()]


def mapping_from_wire(entries: Iterable[SingleQubitMapping]) -> dict[str, str]:
    """Turn the wire list back into ``{logical: physical}``, rejecting a repeated logical name."""
    mapping: dict[str, str] = {}
    for entry in entries:
        if entry.logical_name in mapping:
            raise ConfigurationError(
                f"Qubit mapping names logical qubit '{entry.logical_name}' twice; "
                "give each logical qubit one physical qubit."
            )
        mapping[entry.logical_name] = entry.physical_name
    return mapping


class JobParameters(BaseModel):
    """Execution parameters of a job, as some servers report them in the metadata."""

    model_config = TOLERANT

    shots: int
    max_circuit_duration_over_t2: float | None = None
    heralding_mode: HeraldingMode = HeraldingMode.NONE
    move_validation_mode: MoveGateValidationMode = MoveGateValidationMode.STRICT
    move_gate_frame_tracking_mode: MoveGateFrameTrackingMode = MoveGateFrameTrackingMode.FULL
    dd_mode: DDMode = DDMode.DISABLED
    dd_strategy: dict[str, Any] | None = None


class CircuitEcho(BaseModel):
    """A circuit as the server echoes it: its name, and its instructions as plain JSON.

    Parse the whole echo with ``models.Circuit.model_validate(echo.model_dump())`` when the
    instructions are needed as models.
    """

    model_config = TOLERANT

    name: str
    instructions: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None


class RequestEcho(BaseModel):
    """The run request as the server echoes it (read tolerantly: unknown fields are dropped).

    The first step of reading ``metadata.request``: :class:`~iqm_async.models.Metadata`
    turns it into the :class:`~iqm_async.models.RunRequest` users see.
    """

    model_config = TOLERANT

    circuits: list[CircuitEcho] = Field(default_factory=list)
    shots: int | None = None
    qubit_mapping: list[SingleQubitMapping] | None = None
    calibration_set_id: UUID | None = None
    custom_settings: dict[str, Any] | None = None
    max_circuit_duration_over_t2: float | None = None
    heralding_mode: HeraldingMode | None = None
    move_validation_mode: MoveGateValidationMode | None = None
    move_gate_frame_tracking_mode: MoveGateFrameTrackingMode | None = None
    active_reset_cycles: int | None = None
    dd_mode: DDMode | None = None
    dd_strategy: dict[str, Any] | None = None

    @property
    def qubit_mapping_dict(self) -> dict[str, str]:
        """The echoed qubit mapping as ``{logical: physical}`` (empty if none was sent)."""
        return mapping_from_wire(self.qubit_mapping or [])


# --- pytket Node <-> IQM qubit names ----------------------------------------------------------

_QUBIT_NAME = re.compile(r"^QB([1-9][0-9]*)$")
NODE_REGISTER = "node"


def qubit_name_to_node(name: str) -> Node:
    """Map an IQM physical qubit name to its pytket ``Node``: ``QB1`` is ``node[0]``.

    Raises:
        CircuitValidationError: for names that are not ``QB<n>`` with ``n >= 1`` (for
            example a computational resonator such as ``COMP_R``, which pytket cannot address).
    """
    match = _QUBIT_NAME.match(name)
    if match is None:
        raise CircuitValidationError(
            f"Cannot map IQM component '{name}' to a pytket Node: only qubits named 'QB<n>' "
            "(n >= 1) have a Node. Resonators and other components are not addressable from pytket."
        )
    from pytket.circuit import Node

    return Node(NODE_REGISTER, int(match.group(1)) - 1)


def node_to_qubit_name(node: Any) -> str:
    """Map a pytket ``Node`` (or ``Qubit``) ``node[i]`` to the IQM physical name ``QB{i+1}``.

    Raises:
        CircuitValidationError: for qubits outside the ``node`` register or with a
            multi-dimensional index; place and route the circuit onto the device first.
    """
    reg_name = getattr(node, "reg_name", None)
    index = getattr(node, "index", None)
    if reg_name != NODE_REGISTER or not isinstance(index, list) or len(index) != 1:
        raise CircuitValidationError(
            f"Qubit {node} is not a device node 'node[i]'. Compile the circuit for the device "
            "first (backend.get_compiled_circuit or default_compilation_pass) so that its qubits "
            "are placed on physical qubits."
        )
    return f"QB{index[0] + 1}"
