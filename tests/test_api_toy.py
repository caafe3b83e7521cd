"""A server API the SDK has never seen, added as one ServerAPI subclass: other paths, other
status words, other body shapes. The unchanged client, poller and IQMBackend run jobs through
it (served by a small ASGI app in this process), which shows that nothing above the API
variant knows a route or a status word.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
import httpx
import numpy as np
import pytest
from pytket.backends.status import StatusEnum
from pytket.circuit import Circuit as PytketCircuit
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from iqm_async import AsyncIQMClient, IQMBackend, JobPhase, JobResult, JobStatus
from iqm_async.api import Route, ServerAPI, check_uuid, parse_reply
from iqm_async.emulator.simulator import simulate_arrays
from iqm_async.errors import (
    CircuitValidationError,
    ConfigurationError,
    InvalidResponseError,
    JobAbortedError,
    JobFailedError,
)
from iqm_async.metadata import RequestEcho, mapping_to_wire
from iqm_async.models import (
    Circuit,
    DynamicQuantumArchitecture,
    Instruction,
    Metadata,
    QuantumArchitectureSpecification,
)
from iqm_async.policies import PollPolicy
from iqm_async.results import CircuitCounts

pytestmark = pytest.mark.anyio

URL = "http://toy"
CALIBRATION = UUID("5e1f0000-0000-4000-8000-00000000c0de")
MENU = {
    "calibration_set_id": str(CALIBRATION),
    "qubits": ["QB1", "QB2", "QB3"],
    "computational_resonators": [],
    "gates": {
        "prx": {
            "implementations": {"drag": {"loci": [["QB1"], ["QB2"], ["QB3"]]}},
            "default_implementation": "drag",
        },
        "cz": {
            "implementations": {"tgss": {"loci": [["QB1", "QB2"], ["QB2", "QB3"]]}},
            "default_implementation": "tgss",
        },
        "measure": {
            "implementations": {"const": {"loci": [["QB1"], ["QB2"], ["QB3"]]}},
            "default_implementation": "const",
        },
    },
}
# The toy server's words, in the order a job goes through them.
STEEPING, POURING, SERVED, SPILLED, TOSSED = "steeping", "pouring", "served", "spilled", "tossed"


# --- the toy server ---------------------------------------------------------------------------


@dataclass
class Order:
    cups: list[dict[str, Any]]
    repeat: int
    seating: dict[str, str]
    looks: int = 0  # status reads so far: the job moves on one step per read
    tossed: bool = False


@dataclass
class ToyServer:
    orders: dict[str, Order] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def state(self, order: Order) -> tuple[str, int | None]:
        if order.tossed:
            return TOSSED, None
        if order.looks < 2:
            return STEEPING, 2 - order.looks
        if order.looks < 3:
            return POURING, None
        spilled = any("spill" in cup["name"] for cup in order.cups)
        return (SPILLED if spilled else SERVED), None

    def bits(self, order: Order) -> list[dict[str, list[list[int]]]]:
        rng = np.random.default_rng(3)
        out = []
        for cup in order.cups:
            circuit = Circuit.model_validate(cup)
            out.append(
                {k: v.tolist() for k, v in simulate_arrays(circuit, order.repeat, rng).items()}
            )
        return out

    def app(self) -> Starlette:
        def hit(name: str) -> None:
            self.hits[name] = self.hits.get(name, 0) + 1

        async def place(request: Request) -> Response:
            hit("place")
            body = json.loads(await request.body())
            order_id = str(uuid.uuid4())
            self.orders[order_id] = Order(body["cups"], body["repeat"], body.get("seating") or {})
            return JSONResponse({"order": {"ticket": order_id}}, status_code=201)

        def find(request: Request) -> tuple[str, Order | None]:
            order_id = request.path_params["ticket"]
            return order_id, self.orders.get(order_id)

        async def look(request: Request) -> Response:
            hit("look")
            _, order = find(request)
            if order is None:
                return JSONResponse({"oops": "no such order"}, status_code=404)
            state, line = self.state(order)
            order.looks += 1
            note = "the cup cracked" if state == SPILLED else None
            return JSONResponse({"state": state, "line": line, "note": note})

        async def cup(request: Request) -> Response:
            hit("cup")
            _, order = find(request)
            assert order is not None
            state, _ = self.state(order)
            if state == SPILLED:
                return JSONResponse({"state": state, "note": "the cup cracked"})
            about = {
                "calibration": str(CALIBRATION),
                "repeat": order.repeat,
                "seating": order.seating,
            }
            return JSONResponse({"state": state, "bits": self.bits(order), "about": about})

        async def tally(request: Request) -> Response:
            hit("tally")
            _, order = find(request)
            assert order is not None
            tallies = []
            for per_key in self.bits(order):
                keys = list(per_key)
                counts: dict[str, int] = {}
                for shot in zip(*(per_key[k] for k in keys), strict=True):
                    word = "".join(str(b) for bits in shot for b in bits)
                    counts[word] = counts.get(word, 0) + 1
                tallies.append({"keys": keys, "tally": counts})
            return JSONResponse(tallies)

        async def toss(request: Request) -> Response:
            hit("toss")
            _, order = find(request)
            assert order is not None
            order.tossed = True
            return Response(status_code=204)

        async def drop(request: Request) -> Response:
            hit("drop")
            order_id, _ = find(request)
            self.deleted.add(order_id)
            return Response(status_code=204)

        async def menu(request: Request) -> Response:
            hit("menu")
            assert request.path_params["which"] in ("house", str(CALIBRATION))
            return JSONResponse({"menu": MENU})

        async def layout(request: Request) -> Response:
            hit("layout")
            return JSONResponse(
                {
                    "name": "toy",
                    "operations": {"prx": [["QB1"], ["QB2"], ["QB3"]]},
                    "qubits": ["QB1", "QB2", "QB3"],
                    "qubit_connectivity": [["QB1", "QB2"], ["QB2", "QB3"]],
                }
            )

        return Starlette(
            routes=[
                StarletteRoute("/kitchen/orders", place, methods=["PUT"]),
                StarletteRoute("/kitchen/orders/{ticket}/state", look, methods=["GET"]),
                StarletteRoute("/kitchen/orders/{ticket}/cup", cup, methods=["GET"]),
                StarletteRoute("/kitchen/orders/{ticket}/tally", tally, methods=["GET"]),
                StarletteRoute("/kitchen/orders/{ticket}/toss", toss, methods=["PATCH"]),
                StarletteRoute("/kitchen/orders/{ticket}", drop, methods=["DELETE"]),
                StarletteRoute("/kitchen/menu/{which}", menu, methods=["GET"]),
                StarletteRoute("/kitchen/layout", layout, methods=["GET"]),
            ]
        )


# --- the toy API variant: the only code that knows the above ----------------------------------

_PHASES = {
    STEEPING: JobPhase.QUEUED,
    POURING: JobPhase.RUNNING,
    SERVED: JobPhase.COMPLETED,
    SPILLED: JobPhase.FAILED,
    TOSSED: JobPhase.CANCELLED,
}


class ToyAPI(ServerAPI):
    name = "toy"

    def submit_route(self) -> Route:
        return Route("PUT", "kitchen/orders", "submit")

    def status_route(self, job_id: str) -> Route:
        return Route("GET", f"kitchen/orders/{job_id}/state", "status")

    def result_route(self, job_id: str, status: JobStatus) -> Route | None:
        if status.phase is JobPhase.COMPLETED:
            return Route("GET", f"kitchen/orders/{job_id}/cup", "result")
        return None  # a failed order's note is in its status already

    def counts_route(self, job_id: str) -> Route:
        return Route("GET", f"kitchen/orders/{job_id}/tally", "counts")

    def cancel_route(self, job_id: str) -> Route:
        return Route("PATCH", f"kitchen/orders/{job_id}/toss", "abort")

    def delete_route(self, job_id: str) -> Route:
        return Route("DELETE", f"kitchen/orders/{job_id}", "delete")

    def architecture_route(self) -> Route:
        return Route("GET", "kitchen/layout", "architecture")

    def dynamic_architecture_route(self, calibration_set: str) -> Route:
        which = "house" if calibration_set == "default" else calibration_set
        return Route("GET", f"kitchen/menu/{which}", "architecture")

    @property
    def run_options(self) -> frozenset[str]:
        return frozenset()

    def encode_run(
        self,
        circuits: Circuit | Sequence[Circuit],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
        options: Mapping[str, Any],
    ) -> bytes:
        if options:
            raise ConfigurationError(f"The toy API takes no options, got {sorted(options)}")
        batch = [circuits] if isinstance(circuits, Circuit) else list(circuits)
        return self.encode_run_json(
            [c.to_wire_json().decode() for c in batch],
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
        )

    def encode_run_json(
        self,
        circuits_json: Sequence[str],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
    ) -> bytes:
        if not circuits_json:
            raise CircuitValidationError("Nothing to run.")
        if calibration_set_id is not None:
            check_uuid(calibration_set_id, "calibration_set_id")
        cups = ",".join(circuits_json)
        seating = json.dumps(dict(qubit_mapping or {}))
        return f'{{"cups":[{cups}],"repeat":{int(shots)},"seating":{seating}}}'.encode()

    def read_job_id(self, reply: httpx.Response) -> str:
        ticket = reply.json().get("order", {}).get("ticket")
        return str(check_uuid(ticket, "ticket"))

    def _status(self, body: Mapping[str, Any]) -> JobStatus:
        word = body.get("state")
        if word not in _PHASES:
            raise InvalidResponseError(f"unknown toy state {word!r}")
        return JobStatus(_PHASES[word], word, body.get("note"), queue_position=body.get("line"))

    def read_status(self, reply: httpx.Response) -> JobStatus:
        return self._status(reply.json())

    def read_result(
        self, job_id: str, reply: httpx.Response, status: JobStatus | None = None
    ) -> JobResult | JobStatus:
        body = reply.json()
        status = self._status(body)
        if status.phase is not JobPhase.COMPLETED:
            return status
        arrays = [
            {key: np.asarray(bits, dtype=np.uint8) for key, bits in circuit.items()}
            for circuit in body["bits"]
        ]
        about = body["about"]

        def metadata() -> Metadata:
            echo = RequestEcho(
                shots=about["repeat"], qubit_mapping=mapping_to_wire(about["seating"])
            )
            return Metadata(calibration_set_id=about["calibration"], request=echo)

        return JobResult(job_id, status, arrays, metadata=metadata)

    def read_counts(self, job_id: str, reply: httpx.Response) -> list[CircuitCounts]:
        return [CircuitCounts(tuple(t["keys"]), t["tally"]) for t in reply.json()]

    def read_architecture(self, reply: httpx.Response) -> QuantumArchitectureSpecification:
        return parse_reply(reply, QuantumArchitectureSpecification, "toy layout")

    def read_dynamic_architecture(self, reply: httpx.Response) -> DynamicQuantumArchitecture:
        return DynamicQuantumArchitecture.model_validate(reply.json()["menu"])

    def error_text(self, reply: httpx.Response) -> str:
        return str(reply.json().get("oops", reply.text))


# --- the tests --------------------------------------------------------------------------------

FAST_POLLS = PollPolicy(initial_interval_s=0.001, max_interval_s=0.005, head_interval_s=0.005)


def flip(name: str, qubit: str = "QB1") -> Circuit:
    """X on ``qubit``, then measure it: every shot reads 1."""
    return Circuit(
        name=name,
        instructions=(
            Instruction(name="prx", qubits=(qubit,), args={"angle_t": 0.5, "phase_t": 0.0}),
            Instruction(name="measure", qubits=(qubit,), args={"key": "m"}),
        ),
    )


def toy_client(server: ToyServer, **options: Any) -> AsyncIQMClient:
    transport = httpx.ASGITransport(app=server.app())
    return AsyncIQMClient(URL, api=ToyAPI(), transport=transport, poll=FAST_POLLS, **options)


async def test_client_and_poller_run_jobs_through_a_toy_api(anyio_backend: str) -> None:
    server = ToyServer()
    async with toy_client(server) as client:
        jobs = [await client.submit([flip(f"c{i}")], shots=5) for i in range(3)]
        first = await jobs[0].status()
        assert first.phase is JobPhase.QUEUED and first.raw == STEEPING
        assert first.queue_position == 2
        done = [job async for job in client.as_completed(jobs, timeout=10)]
        assert {job.id for job in done} == {job.id for job in jobs}
        for job in jobs:
            result = await job.result()
            assert result.status.phase is JobPhase.COMPLETED and result.status.raw == SERVED
            assert result.measurements == [{"m": [[1]] * 5}]
            assert result.metadata.calibration_set_id == CALIBRATION
        final = await jobs[0].wait()
        assert final.phase is JobPhase.COMPLETED
        assert await jobs[0].counts() == [CircuitCounts(("m",), {"1": 5})]
        architecture = await client.dynamic_architecture()
        assert architecture.calibration_set_id == CALIBRATION
        assert (await client.quantum_architecture()).name == "toy"
        kinds = client.requests_by_kind
    assert kinds["submit"] == 3 and kinds["result"] == 3 and kinds["counts"] == 1
    # Every request the client sent is one the toy server knows, by its own names.
    assert server.hits["place"] == 3 and server.hits["cup"] == 3 and server.hits["tally"] == 1
    assert server.hits["look"] == kinds["status"] >= 3 * 4  # 2 queued, 1 running, 1 served


async def test_failure_cancel_and_delete_through_a_toy_api(anyio_backend: str) -> None:
    server = ToyServer()
    async with toy_client(server) as client:
        spilled = await client.submit(flip("spill me"), shots=2)
        with pytest.raises(JobFailedError, match="the cup cracked"):
            await spilled.result(timeout=10)
        assert (await spilled.wait()).phase is JobPhase.FAILED

        tossed = await client.submit(flip("keep"), shots=2)
        await tossed.cancel()
        with pytest.raises(JobAbortedError, match=TOSSED):
            await tossed.result(timeout=10)
        await tossed.delete()
    assert server.deleted == {tossed.id}
    assert server.hits["toss"] == 1 and "cup" not in server.hits  # failed/tossed: no fetch


async def test_toy_api_errors_are_read_by_the_variant(anyio_backend: str) -> None:
    server = ToyServer()
    async with toy_client(server) as client:
        with pytest.raises(Exception, match="no such order") as info:
            await client.job(uuid.uuid4()).status()
        assert getattr(info.value, "status_code", None) == 404


@pytest.fixture
def toy_backend() -> Iterator[tuple[IQMBackend, ToyServer]]:
    server = ToyServer()
    options = {
        "api": ToyAPI(),
        "transport": httpx.ASGITransport(app=server.app()),
        "poll": FAST_POLLS,
    }
    with IQMBackend(URL, client_options=options) as backend:
        yield backend, server


def test_iqm_backend_runs_pytket_circuits_through_a_toy_api(
    toy_backend: tuple[IQMBackend, ToyServer],
) -> None:
    backend, server = toy_backend
    bell = backend.get_compiled_circuit(PytketCircuit(2, 2).H(0).CX(0, 1).measure_all())
    ones = backend.get_compiled_circuit(PytketCircuit(2, 2).X(0).X(1).measure_all())
    handles = backend.process_circuits([bell, ones, ones], n_shots=50)
    # Circuits with the same shots that measure the same qubits share a job.
    assert server.hits["place"] == len({tuple(sorted(map(str, c.qubits))) for c in (bell, ones)})
    assert backend.circuit_status(handles[1]).status in (
        StatusEnum.SUBMITTED,
        StatusEnum.COMPLETED,
    )
    results = backend.get_results(handles, timeout=30)
    bell_counts = results[0].get_counts()
    assert set(bell_counts) <= {(0, 0), (1, 1)} and sum(bell_counts.values()) == 50
    assert results[1].get_counts() == {(1, 1): 50}
    assert backend.circuit_status(handles[2]).status is StatusEnum.COMPLETED
    metadata = backend.get_metadata(handles[0])
    assert metadata.calibration_set_id == CALIBRATION
    assert metadata.request is not None and metadata.request.shots == 50
    assert server.hits["menu"] == 1  # the architecture, fetched once, from the toy route


def test_iqm_backend_reports_a_toy_failure(toy_backend: tuple[IQMBackend, ToyServer]) -> None:
    backend, _ = toy_backend
    circuit = backend.get_compiled_circuit(PytketCircuit(1, 1).X(0).measure_all())
    circuit.name = "spill"
    handle = backend.process_circuits([circuit], n_shots=3)[0]
    with pytest.raises(JobFailedError, match="the cup cracked"):
        backend.get_result(handle, timeout=30)
    status = backend.circuit_status(handle)
    assert status.status is StatusEnum.ERROR and "cracked" in status.message


def test_unknown_api_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cocos"):
        AsyncIQMClient(URL, api="no-such-api", transport=httpx.ASGITransport(app=Starlette()))


async def test_a_job_of_another_client_is_refused(anyio_backend: str) -> None:
    async with toy_client(ToyServer()) as one, toy_client(ToyServer()) as other:
        job = await one.submit(flip("x"), shots=1)
        with pytest.raises(ConfigurationError, match="another client"):
            other.as_completed([job])
        with anyio.fail_after(10):
            assert (await job.result()).measurements == [{"m": [[1]]}]
