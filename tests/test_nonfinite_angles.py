"""Invariant 9: a native circuit with a NaN or infinite angle is refused before any request,
on both server APIs (JSON has no such number: V1 sent ``null``, the IQM Server API raised a
foreign TypeError)."""

from __future__ import annotations

import math

import pytest
import respx
from pytket.circuit import Bit, Circuit, Node
from respx_fixtures import FAST_RETRY, MOCK_API_URL

from iqm_async import AsyncIQMClient, compiler
from iqm_async.errors import CircuitValidationError
from iqm_async.models import Circuit as IQMCircuit
from iqm_async.models import Instruction, RunRequest

pytestmark = pytest.mark.anyio

BAD = [math.nan, math.inf, -math.inf]
APIS = [{"api": "cocos"}, {"api": "iqm-server", "quantum_computer": "garnet"}]


def prx(angle: float) -> dict[str, object]:
    return {"name": "prx", "qubits": ["QB1"], "args": {"angle_t": angle, "phase_t": 0.0}}


MEASURE = {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}}


@pytest.mark.parametrize("angle", BAD)
def test_an_instruction_with_a_non_finite_angle_is_refused(angle: float) -> None:
    with pytest.raises(ValueError, match=r"argument 'angle_t' must be a finite number, got"):
        Instruction.model_validate(prx(angle))


@pytest.mark.parametrize("options", APIS)
@pytest.mark.parametrize("angle", BAD)
async def test_submit_refuses_a_non_finite_angle_before_any_request(
    anyio_backend: str, mock_api: respx.MockRouter, angle: float, options: dict[str, str]
) -> None:
    # mock_api has no routes: any request would fail the test.
    valid = IQMCircuit.model_validate({"name": "c", "instructions": [prx(0.25), MEASURE]})
    # A model built without validation (as the compiler builds them) or changed afterwards.
    constructed = IQMCircuit.model_construct(
        name="c",
        instructions=(Instruction.model_construct(**prx(angle)), valid.instructions[1]),
    )
    async with AsyncIQMClient(MOCK_API_URL, retry=FAST_RETRY, **options) as client:
        for circuit in ({"name": "c", "instructions": [prx(angle), MEASURE]}, constructed):
            with pytest.raises(CircuitValidationError, match="must be a finite number"):
                await client.submit([valid, circuit], shots=10)
    assert not mock_api.calls


def test_a_run_request_with_a_non_finite_option_is_refused() -> None:
    circuit = {"name": "c", "instructions": [prx(0.25), MEASURE]}
    with pytest.raises(ValueError, match="finite number"):
        RunRequest.model_validate(
            {"circuits": [circuit], "shots": 1, "max_circuit_duration_over_t2": math.inf}
        )


def test_a_run_request_of_constructed_circuits_checks_their_angles() -> None:
    constructed = IQMCircuit.model_construct(
        name="c", instructions=(Instruction.model_construct(**prx(math.nan)),)
    )
    with pytest.raises(ValueError, match=r"circuits\.0\.instructions\.0\.args: .*finite"):
        RunRequest.model_validate({"circuits": [constructed], "shots": 1})


@pytest.mark.parametrize("angle", [math.nan, math.inf])
def test_the_compiler_refuses_a_non_finite_phased_x(angle: float) -> None:
    circuit = Circuit()
    circuit.add_qubit(Node(0))
    circuit.add_bit(Bit(0))
    circuit.PhasedX(angle, 0.5, Node(0)).Measure(Node(0), Bit(0))
    for translate in (compiler.to_iqm_circuit, compiler.translate_json):
        with pytest.raises(CircuitValidationError, match="not a finite number; give finite"):
            translate(circuit)
