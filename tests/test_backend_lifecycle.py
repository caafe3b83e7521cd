"""IQMBackend's life: what its cache holds, what closing leaves behind, and what an unclosed
backend does at interpreter exit."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import psutil
import pytest
from emulator_fixtures import LiveEmulator
from pytket.circuit import Circuit

from iqm_async.backend import AsyncIQMBackend, IQMBackend
from iqm_async.emulator import EmulatorConfig

EXIT_TIMEOUT_S = 60.0
"""A hang is a timeout, not a slow pass."""


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


def bit(value: int) -> Circuit:
    circuit = Circuit(1, 1)
    if value:
        circuit.X(0)
    return circuit.measure_all()


def kept(backend: IQMBackend, job_id: str) -> bool:
    async def has(inner: AsyncIQMBackend) -> bool:
        return inner.has_job(job_id)

    return backend._loop.call(has)


def test_pop_result_releases_the_jobs_measurements(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, progress=False) as backend:
        compiled = backend.get_compiled_circuits([bit(0), bit(1)], optimisation_level=0)
        first, second = backend.process_circuits(compiled, n_shots=4)  # one job, two handles
        backend.get_results([first, second])
        job_id = first[0]
        assert second[0] == job_id and kept(backend, job_id)
        assert backend.pop_result(first) is not None
        assert kept(backend, job_id), "the job's other handle still needs its measurements"
        assert backend.pop_result(second) is not None
        assert not kept(backend, job_id)
        assert backend.pop_result(second) is None


def test_empty_cache_releases_every_jobs_measurements(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, progress=False, batch_size=1) as backend:
        compiled = backend.get_compiled_circuits([bit(0), bit(1)], optimisation_level=0)
        handles = backend.process_circuits(compiled, n_shots=4)
        backend.get_results(handles)
        assert all(kept(backend, h[0]) for h in handles)
        backend.empty_cache()
        assert not any(kept(backend, h[0]) for h in handles)
        # The results can still be fetched again: the handles are persistent.
        assert backend.get_result(handles[1]).get_counts() == {(1,): 4}


def open_sockets() -> int:
    return len(psutil.Process().net_connections(kind="inet"))


def test_a_hundred_backends_leave_no_thread_or_socket_behind(
    live_emulator: LiveEmulator,
) -> None:
    compiled = None
    # One first, so that what stays for the whole process (the emulator's own threads,
    # pytket's) is there before counting.
    with IQMBackend(live_emulator.url, progress=False) as warm_up:
        compiled = warm_up.get_compiled_circuits([bit(1)], optimisation_level=0)
        warm_up.run_circuit(compiled[0], n_shots=2, timeout=30)
    gc.collect()
    threads, sockets = threading.active_count(), open_sockets()
    for _ in range(100):
        with IQMBackend(live_emulator.url, progress=False) as backend:
            result = backend.run_circuit(compiled[0], n_shots=2, timeout=30)
            assert result.get_counts() == {(1,): 2}
    gc.collect()
    deadline = time.monotonic() + 10  # closed sockets may linger a moment in the kernel
    while (threading.active_count(), open_sockets()) > (threads, sockets):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert threading.active_count() <= threads, [t.name for t in threading.enumerate()]
    assert open_sockets() <= sockets


def test_a_collected_backend_closes_itself(live_emulator: LiveEmulator) -> None:
    threads = threading.active_count()
    backend = IQMBackend(live_emulator.url, progress=False)
    backend.backend_info  # noqa: B018 - starts the loop thread
    assert threading.active_count() > threads
    del backend
    gc.collect()
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads


UNCLOSED = textwrap.dedent(
    """
    import sys
    from pytket.circuit import Circuit
    from iqm_async.backend import IQMBackend

    url, auth = sys.argv[1], sys.argv[2]
    backend = IQMBackend(
        url, auth_server_url=auth, username="u", password="p", api="cocos", progress=False
    )
    circuit = backend.get_compiled_circuit(Circuit(2, 2).H(0).CX(0, 1).measure_all())
    result = backend.run_circuit(circuit, n_shots=10, timeout=30)
    assert sum(result.get_counts().values()) == 10
    print("ran without close()", flush=True)
    """
)
REFERENCE = textwrap.dedent(
    """
    from pytket.circuit import Circuit
    from iqm_async.backend import IQMBackend
    from iqm_async.compiler import compile_circuits

    print("imported the same modules", flush=True)
    """
)


def seconds_to_exit(script: str, *args: str) -> float:
    """Run ``script``; the seconds from its last line of output to the end of the process."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        printed = time.monotonic()
        _, err = child.communicate(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        raise AssertionError(f"no exit within {EXIT_TIMEOUT_S:g} s") from None
    assert child.returncode == 0 and line, err
    return time.monotonic() - printed


def test_an_unclosed_backend_logs_out_and_lets_the_interpreter_exit(
    live_emulator_factory: Callable[[EmulatorConfig], LiveEmulator],
) -> None:
    live = live_emulator_factory(
        EmulatorConfig(
            seed=3, parallel=True, job_seconds=0.0, require_auth=True, username="u", password="p"
        )
    )
    reference_s = seconds_to_exit(REFERENCE)
    unclosed_s = seconds_to_exit(UNCLOSED, live.url, live.url)
    assert live.emulator.counters.logouts == 1
    # What an interpreter with these modules takes to exit anyway (pytket's and sympy's
    # teardown) is not the backend's: it may add at most one second to it.
    assert unclosed_s < reference_s + 1.0, (unclosed_s, reference_s)
