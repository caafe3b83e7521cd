"""IQMBackend.process_circuits(..., symbol_bindings=...) against the emulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sympy
from emulator_fixtures import LiveEmulator
from pytket.circuit import Circuit

from iqm_async.backend import IQMBackend
from iqm_async.compiler import _pool as compile_pool
from iqm_async.errors import CircuitValidationError, ConfigurationError

THETA, PHI = sympy.Symbol("theta"), sympy.Symbol("phi")


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


@pytest.fixture
def backend(live_emulator: LiveEmulator) -> Iterator[IQMBackend]:
    with IQMBackend(live_emulator.url, progress=False) as b:
        yield b


def flips() -> Circuit:
    """Two qubits: Rx(theta) on one, Rx(phi) on the other (an X for 1, nothing for 0)."""
    return Circuit(2, 2, name="flips").Rx(THETA, 0).Rx(PHI, 1).CZ(0, 1).measure_all()


def test_sweep_runs_every_binding_in_order(
    backend: IQMBackend, live_emulator: LiveEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Must show: compiled once, one job for all points, each point's own result."""
    compiled = backend.get_compiled_circuit(flips())
    assert compiled.free_symbols() == {THETA, PHI}
    points = [(0, 0), (1, 0), (0, 1), (1, 1), (2, 1), (3, 0)]
    bindings = [{THETA: t, "phi": p} for t, p in points]
    compile_calls: list[int] = []
    monkeypatch.setattr(compile_pool, "_compile_one", lambda *a: compile_calls.append(1))
    live_emulator.emulator.reset_stats()
    handles = backend.process_circuits(compiled, n_shots=20, symbol_bindings=bindings)
    results = backend.get_results(handles)
    assert compile_calls == []  # nothing compiled per point
    assert len({h[0] for h in handles}) == 1  # one job
    assert [h[1] for h in handles] == list(range(len(points)))
    for (t, p), result in zip(points, results, strict=True):
        assert result.get_counts() == {(t % 2, p % 2): 20}, (t, p)
    assert live_emulator.emulator.stats()["jobs_created"] == 1


def test_several_circuits_give_handles_circuit_by_circuit(backend: IQMBackend) -> None:
    one = backend.get_compiled_circuit(Circuit(1, 1, name="one").Rx(THETA, 0).measure_all())
    other = backend.get_compiled_circuit(Circuit(1, 1, name="other").Rx(THETA + 1, 0).measure_all())
    handles = backend.process_circuits(
        [one, other], n_shots=[10, 30], symbol_bindings=[{"theta": 0}, {"theta": 1}]
    )
    counts = [r.get_counts() for r in backend.get_results(handles)]
    assert counts == [{(0,): 10}, {(1,): 10}, {(1,): 30}, {(0,): 30}]


def test_sweep_with_postprocess_gives_the_same_counts(backend: IQMBackend) -> None:
    compiled = backend.get_compiled_circuit(flips())
    bindings = [{"theta": 1, "phi": 0}, {"theta": 0, "phi": 1}]
    handles = backend.process_circuits(
        compiled, n_shots=10, symbol_bindings=bindings, postprocess=True
    )
    counts = [r.get_counts() for r in backend.get_results(handles)]
    assert counts == [{(1, 0): 10}, {(0, 1): 10}]


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        ([{"theta": 1}], "symbol_bindings[0] gives no value for symbol 'phi' of circuit 0"),
        (
            [{"theta": 1, "phi": 0, "psi": 2}],
            "gives symbol 'psi', which circuit 0 ('flips') does not have",
        ),
        ([{"theta": "x", "phi": 0}], "gives symbol 'theta' the value 'x' (str)"),
        ([{"theta": float("nan"), "phi": 0}], "gives symbol 'theta' the value nan"),
        ([], "symbol_bindings is empty"),
    ],
)
def test_bad_bindings_send_nothing(
    backend: IQMBackend, live_emulator: LiveEmulator, bindings: object, message: str
) -> None:
    compiled = backend.get_compiled_circuit(flips())
    live_emulator.emulator.reset_stats()
    with pytest.raises(ConfigurationError) as caught:
        backend.process_circuits([compiled], n_shots=10, symbol_bindings=bindings)
    assert message in str(caught.value)
    assert live_emulator.emulator.stats()["jobs_created"] == 0


def test_symbols_without_bindings_are_still_refused(backend: IQMBackend) -> None:
    compiled = backend.get_compiled_circuit(flips())
    with pytest.raises(CircuitValidationError) as caught:
        backend.process_circuits([compiled], n_shots=10)
    assert "it has symbolic parameters (phi, theta)" in str(caught.value)


def test_identical_circuits_in_get_compiled_circuits_are_compiled_once(
    backend: IQMBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    compile_one = compile_pool._compile_one

    def counted(*args: object) -> Circuit:
        calls.append(1)
        return compile_one(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(compile_pool, "_compile_one", counted)
    circuit = flips()
    compiled = backend.get_compiled_circuits([circuit, circuit.copy(), circuit])
    assert len(calls) == 1
    assert compiled[0] == compiled[1] == compiled[2]
