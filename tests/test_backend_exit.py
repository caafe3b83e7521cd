"""An IQMBackend that is never closed does not keep the interpreter from exiting.

The backend's loop runs in anyio's blocking-portal thread. anyio 4.4 ran it as a
``ThreadPoolExecutor`` worker, which interpreter exit joins, so exit waited forever for a
loop that nothing stops; 4.5 runs it in a daemon thread. This runs a script in a child
process and fails if it does not exit in time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

EXIT_TIMEOUT_S = 60.0
"""How long the child may take in all; a hang is a timeout, not a slow pass."""

SCRIPT = textwrap.dedent(
    """
    from pytket.circuit import Circuit

    from iqm_async.backend import IQMBackend
    from iqm_async.emulator import EmulatorConfig, running_emulator

    emulator = running_emulator(EmulatorConfig(seed=1234, parallel=True, job_seconds=0.0))
    url = emulator.__enter__()  # left running too: the script ends without any cleanup
    backend = IQMBackend(url, progress=False)
    circuit = backend.get_compiled_circuit(Circuit(2, 2).H(0).CX(0, 1).measure_all())
    result = backend.run_circuit(circuit, n_shots=10, timeout=30)
    assert sum(result.get_counts().values()) == 10
    print("ran without close()", flush=True)
    """
)


def test_unclosed_backend_does_not_hang_interpreter_exit() -> None:
    started = time.monotonic()
    try:
        finished = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"the interpreter did not exit within {EXIT_TIMEOUT_S:g} s with an unclosed "
            f"IQMBackend; output so far: {exc.stdout!r} {exc.stderr!r}"
        ) from None
    elapsed_s = time.monotonic() - started
    assert finished.returncode == 0, finished.stderr
    assert "ran without close()" in finished.stdout
    assert elapsed_s < EXIT_TIMEOUT_S / 2, f"exit took {elapsed_s:.1f} s"
