"""Qubit-mapping helpers and pytket Node <-> IQM qubit names."""

from __future__ import annotations

import pytest
from pytket.circuit import Node, Qubit

from iqm_async.errors import CircuitValidationError, ConfigurationError
from iqm_async.metadata import (
    SingleQubitMapping,
    mapping_from_wire,
    mapping_to_wire,
    node_to_qubit_name,
    qubit_name_to_node,
)
from iqm_async.models import Metadata, RunRequest


def test_mapping_round_trip() -> None:
    mapping = {"node[0]": "QB1", "node[3]": "QB4"}
    wire = mapping_to_wire(mapping)
    assert wire == [
        SingleQubitMapping(logical_name="node[0]", physical_name="QB1"),
        SingleQubitMapping(logical_name="node[3]", physical_name="QB4"),
    ]
    assert mapping_from_wire(wire) == mapping


def test_mapping_two_logicals_on_one_physical_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match=r"'a' and 'b' are both mapped .* 'QB2'"):
        mapping_to_wire({"a": "QB2", "b": "QB2"})


def test_mapping_repeated_logical_is_rejected() -> None:
    wire = [
        SingleQubitMapping(logical_name="a", physical_name="QB1"),
        SingleQubitMapping(logical_name="a", physical_name="QB2"),
    ]
    with pytest.raises(ConfigurationError, match="'a' twice"):
        mapping_from_wire(wire)


@pytest.mark.parametrize(("name", "index"), [("QB1", 0), ("QB2", 1), ("QB20", 19), ("QB150", 149)])
def test_qubit_name_node_round_trip(name: str, index: int) -> None:
    node = qubit_name_to_node(name)
    assert node == Node(index)
    assert node_to_qubit_name(node) == name


@pytest.mark.parametrize("bad", ["COMP_R", "QB0", "qb1", "QB", "QB1a", "QB01"])
def test_unmappable_qubit_name(bad: str) -> None:
    with pytest.raises(CircuitValidationError, match=f"'{bad}'"):
        qubit_name_to_node(bad)


@pytest.mark.parametrize("bad", [Qubit("q", 0), Qubit("node", 1, 2), "QB1"])
def test_unmappable_node(bad: object) -> None:
    with pytest.raises(CircuitValidationError, match="not a device node"):
        node_to_qubit_name(bad)


def test_metadata_reads_the_echoed_mapping() -> None:
    meta = Metadata.model_validate(
        {
            "calibration_set_id": "6f1d2c8e-0a55-4c1b-9a8e-2b7f6d3e9c10",
            "request": {
                "shots": 3,
                "circuits": [],
                "qubit_mapping": [{"logical_name": "node[0]", "physical_name": "QB1"}],
                "some_future_field": 1,
            },
        }
    )
    # An echo with no circuits fails RunRequest's checks: it is kept as the server sent it.
    assert isinstance(meta.request, RunRequest)
    assert meta.request.shots == 3 and meta.request.circuits == []
    assert meta.request.qubit_mapping_dict == {"node[0]": "QB1"}
    assert meta.request.qubit_mapping is not None
    assert meta.request.qubit_mapping[0].physical_name == "QB1"


def test_metadata_request_is_the_validated_request_model() -> None:
    instruction = {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}, "extra": 1}
    meta = Metadata.model_validate(
        {
            "request": {
                "shots": 4,
                "circuits": [{"name": "c", "instructions": [instruction], "future": True}],
                "calibration_set_id": "6f1d2c8e-0a55-4c1b-9a8e-2b7f6d3e9c10",
                "heralding_mode": "zeros",
            }
        }
    )
    request = meta.request
    assert isinstance(request, RunRequest)
    # Validated: enums and UUIDs are parsed, unknown fields of the echo are dropped.
    assert request.heralding_mode.value == "zeros"
    assert str(request.calibration_set_id) == "6f1d2c8e-0a55-4c1b-9a8e-2b7f6d3e9c10"
    assert request.circuits[0].instructions[0].args == {"key": "m"}
    assert request.circuits[0].measurement_keys == ["m"]
