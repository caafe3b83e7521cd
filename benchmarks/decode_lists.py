"""``to_backend_result`` from Python lists: the marshal fast path vs the plain path.

Run: ``PYTHONPATH=. python benchmarks/decode_lists.py [--repeats=N]`` (best of N, default 7).

Who passes lists: ``examples/quickstart.py`` decodes ``(await job.result()).measurements``,
which are lists (``Job.result`` builds them from the reader's arrays with ``tolist``). The
IQMBackend and the CLI never do: they pass ``job.measurement_arrays()``, numpy arrays, which
take neither path. Workloads: the quickstart's (200 circuits x 1,000 shots x 2 keys, one
call per circuit) and one large circuit (100,000 shots x 20 keys).

- marshal: ``to_backend_result`` as shipped (lists of ``[bit]`` go through ``_bits_fast``);
- plain: the same call with ``_bits_fast`` patched to decline, so every key takes the plain
  ``map``/``np.fromiter`` path;
- for scale: ``tolist`` of the arrays (what ``job.result()`` spends building those lists) and
  ``to_backend_result`` from the arrays themselves (what ``measurement_arrays`` users pay).

Timing: ``time.perf_counter``, best of N, the two paths alternately in one process, a full
``gc.collect()`` before each timed call, the collector enabled (as in a user's process).

Measured (Python 3.11.7, numpy 2.4.6, pytket 2.18.5, 2 shared CPUs under load; best of 7,
ms):

    workload      circuits x shots x keys  marshal   plain  ratio  tolist  arrays
    quickstart             200 x 1000 x 2     18.7    28.1   1.50   286.8     5.7
    large single          1 x 100000 x 20     48.4   112.6   2.33   611.8     3.3

The marshal path pays where lists are decoded: 1.5x on the quickstart (9 ms per 200
circuits), 2.3x on the large circuit. It is small beside building the lists at all
(``tolist``) and decoding from arrays instead is 3-15x faster still: were the quickstart
to decode ``job.measurement_arrays()``, no user workload would take the marshal path.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np
from pytket.circuit import Circuit

from iqm_async.compiler import _decode, measurement_layout, to_backend_result

# (label, circuits, shots, keys of one bit each)
WORKLOADS = [("quickstart", 200, 1_000, 2), ("large single", 1, 100_000, 20)]


def best_ms(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def main() -> None:
    repeats = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--repeats=")), 7))
    print(f"best of {repeats}, ms; ratio = plain / marshal")
    print(f"{'workload':<13} {'circuits x shots x keys':>23} {'marshal':>8} {'plain':>7} "
          f"{'ratio':>6} {'tolist':>7} {'arrays':>7}")  # fmt: skip
    rng = np.random.default_rng(5)
    for label, n_circuits, shots, n_keys in WORKLOADS:
        circuit = Circuit(n_keys, n_keys)
        for q in range(n_keys):
            circuit.Measure(q, q)
        layout = measurement_layout(circuit)
        arrays = [
            {f"c[{i}]": rng.integers(0, 2, size=(shots, 1), dtype=np.uint8) for i in range(n_keys)}
            for _ in range(n_circuits)
        ]
        lists = [{key: bits.tolist() for key, bits in c.items()} for c in arrays]

        def decode(batch: list[dict[str, Any]], layout: Any = layout) -> None:
            for measurements in batch:
                to_backend_result(measurements, layout)

        with mock.patch.object(_decode, "_bits_fast", lambda shots: None):
            plain_shots = [to_backend_result(m, layout).get_shots() for m in lists]
        assert all(
            np.array_equal(to_backend_result(m, layout).get_shots(), p)
            for m, p in zip(lists, plain_shots, strict=True)
        )
        marshal = plain = float("inf")
        for _ in range(repeats):  # alternately, so drift in the machine's load hits both
            marshal = min(marshal, best_ms(lambda: decode(lists), 1))  # noqa: B023
            with mock.patch.object(_decode, "_bits_fast", lambda shots: None):
                plain = min(plain, best_ms(lambda: decode(lists), 1))  # noqa: B023
        tolist = best_ms(
            lambda: [{k: b.tolist() for k, b in c.items()} for c in arrays],  # noqa: B023
            repeats,
        )
        from_arrays = best_ms(lambda: decode(arrays), repeats)  # noqa: B023
        shape = f"{n_circuits} x {shots} x {n_keys}"
        print(f"{label:<13} {shape:>23} {marshal:>8.1f} {plain:>7.1f} {plain / marshal:>6.2f} "
              f"{tolist:>7.1f} {from_arrays:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
