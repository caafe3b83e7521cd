"""The pytket backend as pytket-iqm users know it: compile, run, results, metadata."""

from __future__ import annotations

from pytket.circuit import Circuit

from iqm_async import IQMBackend


def main(url: str) -> None:
    circuit = Circuit(3, 3, name="ghz3").H(0).CX(0, 1).CX(1, 2).measure_all()
    with IQMBackend(url, client_options={"api": "auto"}) as backend:
        compiled = backend.get_compiled_circuit(circuit)
        n_shots = 100
        backend.run_circuit(compiled, n_shots=n_shots, timeout=30)
        handle = backend.process_circuits([compiled], n_shots=n_shots)[0]
        result = backend.get_result(handle)
        metadata = backend.get_metadata(handle)
        print("counts:", dict(result.get_counts()))
        print("physical qubits:", [qm.physical_name for qm in metadata.request.qubit_mapping])
        print("calibration set:", metadata.calibration_set_id)


if __name__ == "__main__":
    from _server import server_url

    with server_url(seed=3, parallel=True, job_seconds=0.1) as url:
        main(url)
