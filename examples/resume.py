"""Save result handles to a file, stop, start again and collect the results.

With a real server (``IQM_SERVER_URL`` set) run it in two steps, hours apart if you like::

    python examples/resume.py submit handles.txt
    python examples/resume.py collect handles.txt

Without arguments it does both against a local emulator, with a fresh backend for the second
step, as a new process would.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytket.backends import ResultHandle
from pytket.circuit import Circuit

from iqm_async import IQMBackend

AUTO = {"api": "auto"}  # the API the server speaks: the IQM Server API or V1


def submit(url: str, path: Path) -> None:
    circuits = [Circuit(2, 2, name=f"rot{i}").Ry(i / 4, 0).CX(0, 1).measure_all() for i in range(5)]
    with IQMBackend(url, progress=False, client_options=AUTO) as backend:
        handles = backend.process_circuits(backend.get_compiled_circuits(circuits), n_shots=200)
    path.write_text("\n".join(str(h) for h in handles) + "\n", encoding="utf-8")
    print(f"submitted {len(handles)} circuits; handles saved to {path}")


def collect(url: str, path: Path) -> None:
    handles = [ResultHandle.from_str(line) for line in path.read_text().splitlines() if line]
    with IQMBackend(url, progress=False, client_options=AUTO) as backend:  # as after a restart
        for handle, result in zip(handles, backend.get_results(handles), strict=True):
            print(f"job {str(handle[0])[:8]}[{handle[1]}]: {dict(result.get_counts())}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("submit", "collect"):
        from _server import server_url

        with server_url() as url:
            (submit if sys.argv[1] == "submit" else collect)(url, Path(sys.argv[2]))
        return
    import tempfile

    from _server import server_url

    with (
        server_url(seed=9, parallel=True, job_seconds=0.2) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        path = Path(tmp) / "handles.txt"
        submit(url, path)
        collect(url, path)


if __name__ == "__main__":
    main()
