"""AsyncIQMClient: submit circuits to an IQM server, wait for many jobs at once.

::

    async with AsyncIQMClient("https://cocos.example.com", tokens_file="tokens.json") as client:
        job = await client.submit(circuits, shots=1000, qubit_mapping={"q0": "QB1"})
        result = await job.result(timeout=300)
        async for done in client.as_completed(jobs):
            ...

One ``httpx.AsyncClient`` and one poller task live as long as the ``async with`` block; the
client refuses use after it closes. Inputs are validated before any request is sent. The
server's API is one argument (``api=``, see :mod:`iqm_async.api`): the client itself knows no
route and no server status word.
Requests are retried as :class:`~iqm_async.policies.RetryPolicy` says; a submission is resent
only when the server cannot have acted on it. Works on asyncio and trio (anyio).
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import replace
from types import TracebackType
from typing import Any
from uuid import UUID

import anyio
import httpx

from ..api import (
    QUANTUM_COMPUTERS_ROUTE,
    QuantumComputer,
    ServerAPI,
    check_uuid,
    choose_api,
    read_quantum_computers,
    resolve_api,
)
from ..auth import Credentials, build_auth, resolve_credentials
from ..errors import ClientClosedError, ConfigurationError, NotFoundError
from ..jobs import Job
from ..models import Circuit, DynamicQuantumArchitecture, QuantumArchitectureSpecification
from ..policies import PollPolicy, RetryPolicy
from ..quality import QualityMetrics
from ..results import JobResult
from ..transport import ServerErrorText, Transport, server_message
from ._poller import Poller
from ._url import check_url

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_TIMEOUT", "AsyncIQMClient", "check_url"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Per-request timeout: 10 s to connect, 60 s for each read, write and pool wait."""

DEFAULT_MAX_CONNECTIONS = 8
"""Requests in flight at once per client (more wait their turn in the client).

Small on purpose: httpcore's pool spends CPU per open connection on every request, so on a
fast link 8 connections move more jobs per second than 64 (benchmarks/client_throughput.py).
Raise it for a server far away (each connection carries about 1 / round-trip-time requests
per second)."""

_USER_AGENT = "iqm-async/0.1.0"
# --- the client -------------------------------------------------------------------------------


class AsyncIQMClient:
    """An async client of one IQM server.

    Use it as ``async with AsyncIQMClient(url, ...) as client:``; it owns one connection
    pool and one poller for its life, and raises :class:`ClientClosedError` once closed.

    Args:
        url: the server's base URL, e.g. ``https://cocos.example.com`` (http only for
            loopback hosts without a warning).
        api: the server's API: a name from :data:`iqm_async.api.API_NAMES` or a
            :class:`~iqm_async.api.ServerAPI` (default ``"auto"``: when the client opens,
            ask a server at a root URL whether it lists quantum computers, i.e. speaks the
            IQM Server API; a URL with a device path or a ``cocos.*`` host is V1 without
            asking).
        token: a long-lived API token (or ``IQM_TOKEN``).
        tokens_file: a tokens file written by cortex-cli (or ``IQM_TOKENS_FILE``).
        auth_server_url, username, password: password login at an auth server (or
            ``IQM_AUTH_SERVER``, ``IQM_AUTH_USERNAME``, ``IQM_AUTH_PASSWORD``).
            With no credentials at all, requests go without ``Authorization``.
        timeout: per-request timeout in seconds or an ``httpx.Timeout``
            (default :data:`DEFAULT_TIMEOUT`).
        max_connections: requests in flight at once (default 8; see
            :data:`DEFAULT_MAX_CONNECTIONS`).
        retry: the retry policy (default :class:`RetryPolicy()`).
        poll: the poll policy (default :class:`PollPolicy()`: 50 ms first poll, up to 2 s
            between polls of one job, the oldest waiting job polled every 0.1 s, at most 50
            polls per second in all, oldest jobs first when that cap binds).
        transport: an httpx transport (tests pass ``httpx.ASGITransport(app)``).
        tokens_file_overrides: ``IQM_TOKENS_FILE`` in the environment wins over every other
            credential (the pytket backend's rule).
        credentials: already resolved credentials (from :func:`iqm_async.auth.resolve_credentials`);
            then the other credential arguments must be left out and no variable is read.
    """

    def __init__(
        self,
        url: str,
        *,
        api: ServerAPI | str = "auto",
        quantum_computer: str | None = None,
        token: str | None = None,
        tokens_file: str | None = None,
        auth_server_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        tokens_file_overrides: bool = False,
        credentials: Credentials | None = None,
    ) -> None:
        self.url = check_url(url, in_process=isinstance(transport, httpx.ASGITransport))
        if quantum_computer is None:
            quantum_computer = os.environ.get("IQM_QUANTUM_COMPUTER") or None
        self._quantum_computer = quantum_computer
        self._api: ServerAPI | None = resolve_api(
            api, url=self.url, quantum_computer=quantum_computer
        )
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ConfigurationError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be >= 1, got {max_connections}")
        if not isinstance(timeout, httpx.Timeout):
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
                raise ConfigurationError(
                    f"timeout must be seconds > 0 or an httpx.Timeout, got {timeout!r}"
                )
            timeout = httpx.Timeout(float(timeout))
        self.retry_policy = retry if retry is not None else RetryPolicy()
        self.poll_policy = poll if poll is not None else PollPolicy()
        if credentials is None:
            credentials = resolve_credentials(
                token=token,
                tokens_file=tokens_file,
                auth_server_url=auth_server_url,
                username=username,
                password=password,
                tokens_file_overrides=tokens_file_overrides,
            )
        elif any(v is not None for v in (token, tokens_file, auth_server_url, username, password)):
            raise ConfigurationError(
                "Pass either credentials= or token=/tokens_file=/auth_server_url+username+"
                "password=, not both."
            )
        self._credential_kind = credentials.kind if credentials is not None else None
        if self._api is not None:
            self._check_credentials_fit(self._api)
        self._auth = build_auth(credentials, transport=transport)
        self._http = httpx.AsyncClient(
            base_url=self.url,
            auth=self._auth,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": _USER_AGENT},
        )
        self._transport = Transport(
            self._http, self.retry_policy, max_connections, error_text=self._error_text
        )
        self._poller = Poller(self._transport, self._api, self.poll_policy)
        self._jobs: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()
        self._job_seq = itertools.count()  # creation order of jobs, for oldest-first polling
        self._dqa_cache: dict[str, DynamicQuantumArchitecture] = {}
        self._qa_cache: QuantumArchitectureSpecification | None = None
        self._metrics_cache: dict[str, QualityMetrics] = {}
        self._fetch_locks: dict[str, anyio.Lock] = {}
        self._stack: AsyncExitStack | None = None
        self._closed = False
        self._released = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._stack else "not entered")
        return f"AsyncIQMClient(url={self.url!r}, {state})"

    @property
    def api(self) -> ServerAPI:
        """The server API this client speaks (known once the client is open when it had to
        ask the server: ``api="auto"``, or ``"iqm-server"`` without a quantum computer)."""
        if self._api is None:
            raise ConfigurationError(
                "The server's API is asked for when the client opens: use "
                "`async with AsyncIQMClient(...) as client:` first."
            )
        return self._api

    def _error_text(self, reply: httpx.Response) -> str | ServerErrorText:
        return self._api.error_text(reply) if self._api is not None else server_message(reply)

    async def _ask_server_api(self) -> ServerAPI:
        """Ask the server which API it speaks (and which quantum computers it has)."""
        try:
            listed = await self._transport.request(QUANTUM_COMPUTERS_ROUTE, read_quantum_computers)
        except NotFoundError:
            listed = None  # only an IQM Server knows the route
        api = choose_api(listed, self._quantum_computer)
        self._check_credentials_fit(api)
        return api

    def _check_credentials_fit(self, api: ServerAPI) -> None:
        if self._credential_kind == "auth_server" and not api.password_login:
            raise ConfigurationError(
                f"The {api.name} API takes an API token (token= or IQM_TOKEN) or a tokens file "
                "(tokens_file= or IQM_TOKENS_FILE); it has no username/password login."
            )

    async def quantum_computers(self) -> list[QuantumComputer]:
        """The quantum computers the server offers (IQM Server API; one request)."""
        self._require_open()
        return await self._transport.request(QUANTUM_COMPUTERS_ROUTE, read_quantum_computers)

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncIQMClient:
        if self._closed:
            raise ClientClosedError("This AsyncIQMClient is closed; create a new one.")
        if self._stack is not None:
            raise ConfigurationError("This AsyncIQMClient is already open.")
        if self._api is None:
            self._api = await self._ask_server_api()
            self._poller.use_api(self._api)
        stack = AsyncExitStack()
        try:
            task_group = await stack.enter_async_context(anyio.create_task_group())
            # Stop only the poller: the task group's own scope also covers the caller's body.
            stack.callback(self._poller.stop)
            await task_group.start(self._poller.run)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._shut_down()
        if self._stack is not None:
            # Exits the poller's task group here, in the task and scope that entered it.
            await self._stack.aclose()
        await self._release()

    async def aclose(self) -> None:
        """Stop the poller, end current waits, close connections and log out. Idempotent.

        Inside ``async with`` the poller's task group is left at the block's end.
        """
        self._shut_down()
        await self._release()

    def _shut_down(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._poller.close("The AsyncIQMClient was closed")
        self._poller.stop()

    async def _release(self) -> None:
        if self._released:
            return
        self._released = True
        with anyio.CancelScope(shield=True):
            await self._http.aclose()
            if self._auth is not None:
                with anyio.move_on_after(5.0):
                    await self._auth.aclose()

    @property
    def request_count(self) -> int:
        """HTTP requests this client has sent (each retry counts; auth-server calls do not)."""
        return self._transport.request_count

    @property
    def requests_by_kind(self) -> dict[str, int]:
        """:attr:`request_count` split by kind: submit, status, result, counts, abort, ..."""
        return dict(self._transport.requests_by_kind)

    @property
    def polls_in_flight(self) -> int:
        """Status polls or result fetches of the poller running now (0 when idle)."""
        return self._poller.polls_in_flight

    def _require_open(self) -> None:
        if self._closed:
            raise ClientClosedError("This AsyncIQMClient is closed; create a new one.")
        if self._stack is None:
            raise ConfigurationError(
                "The client is not open: use `async with AsyncIQMClient(...) as client:`."
            )

    # --- jobs ---------------------------------------------------------------------------------

    async def submit(
        self,
        circuits: Circuit | Sequence[Circuit],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None = None,
        calibration_set_id: UUID | str | None = None,
        **options: Any,
    ) -> Job:
        """Submit one job: a circuit, or a list of circuits run as one batch.

        Args:
            circuits: a :class:`Circuit` or a sequence of them (one job either way).
            shots: repetitions of each circuit, an int >= 1.
            qubit_mapping: ``{logical name: physical name}`` for the whole batch.
            calibration_set_id: run with this calibration set (default: the server's).
            **options: further options of the server API's run request (for the V1 API the
                :class:`RunRequest` fields, e.g. ``heralding_mode="zeros"``,
                ``max_circuit_duration_over_t2=0.0``).

        Raises:
            ConfigurationError, CircuitValidationError: bad input (no request is sent).
            SubmissionUncertainError: the submit failed in a way that may have created the
                job; it is never resent automatically.
            APIStatusError: the server refused the job (e.g. 400 with its reason).
        """
        self._require_open()
        body = self.api.encode_run(
            circuits,
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
            options=options,
        )
        return await self._send_run(body)

    async def submit_json(
        self,
        circuits_json: Sequence[str],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None = None,
        calibration_set_id: UUID | str | None = None,
    ) -> Job:
        """Submit one job of circuits that are already the server API's JSON, sent as is
        (the server validates them; the other arguments are checked as in :meth:`submit`).

        For callers that write circuits themselves, e.g.
        :func:`~iqm_async.compiler.translate_json`, to avoid building models for large
        batches. Retries and errors as :meth:`submit`.
        """
        self._require_open()
        body = self.api.encode_run_json(
            circuits_json,
            shots=shots,
            qubit_mapping=qubit_mapping,
            calibration_set_id=calibration_set_id,
        )
        return await self._send_run(body)

    async def _send_run(self, body: bytes) -> Job:
        """Submit an encoded run request (the caller checked the client is open)."""
        job_id, status = await self._transport.submit(
            self.api.submit_route(), body, self.api.read_submitted
        )
        # Numbered as the answer comes: a server answers right after queueing the job, so
        # concurrent submits are numbered in about its queue order (the order they were
        # sent in is less reliable: the server may read 8 connections in any order).
        now = anyio.current_time()
        ended = status is not None and status.done
        job = self._new_job(job_id, now if ended else now + self.poll_policy.initial_interval_s)
        if status is not None:
            job._observe(status)  # a job that ended already is settled without a status poll
        return job

    def _new_job(self, job_id: str, first_poll_at: float) -> Job:
        job = Job(job_id, self._poller, seq=next(self._job_seq))
        self._poller.track(job, first_poll_at)
        self._jobs[job_id] = job
        return job

    def job(self, job_id: UUID | str) -> Job:
        """A handle to a job made elsewhere (by id); the same handle for the same id.

        Raises:
            ConfigurationError: ``job_id`` is not a UUID.
        """
        key = str(check_uuid(job_id, "job_id"))
        found = self._jobs.get(key)
        return found if found is not None else self._new_job(key, 0.0)

    def as_completed(
        self,
        jobs: Iterable[Job],
        timeout: float | None = None,
    ) -> AsyncIterator[Job]:
        """Yield each job as it ends (completed, failed or cancelled), soonest first.

        Read the outcome with ``await job.result()`` (no further wait). Break out early with
        ``contextlib.aclosing`` to stop the waits at once.

        Args:
            jobs: jobs of this client.
            timeout: seconds for all of them (default: no limit).

        Raises:
            JobTimeoutError: not all jobs ended in time (naming one that did not).
            ConfigurationError: a job of another client (raised here, before any wait).
        """
        self._require_open()
        pending = list(dict.fromkeys(jobs))
        for job in pending:
            if not self._poller.owns(job):
                raise ConfigurationError(f"Job {job.id} belongs to another client.")
        return self._poller.as_completed(pending, timeout)

    async def gather(
        self,
        jobs: Iterable[Job],
        timeout: float | None = None,  # noqa: ASYNC109 - raises JobTimeoutError naming a job
    ) -> list[JobResult]:
        """Wait for all jobs and return their results in the order given.

        Args:
            jobs: jobs of this client.
            timeout: seconds for all of them (default: no limit).

        Raises:
            JobFailedError, JobAbortedError: of the first such job in the order given, once
                all have ended.
            JobTimeoutError: not all jobs ended in time.
        """
        job_list = list(jobs)
        async for _ in self.as_completed(job_list, timeout):
            pass
        return [await job.result() for job in job_list]

    # --- architecture -------------------------------------------------------------------------

    async def quantum_architecture(self) -> QuantumArchitectureSpecification:
        """The server's quantum architecture (qubits, operations, connectivity), fetched once."""
        self._require_open()
        async with self._fetch_lock("qa"):
            if self._qa_cache is None:
                self._qa_cache = await self._transport.request(
                    self.api.architecture_route(), self.api.read_architecture
                )
            return self._qa_cache

    async def dynamic_architecture(
        self, calibration_set_id: UUID | str | None = None, *, refresh: bool = False
    ) -> DynamicQuantumArchitecture:
        """The gates and loci one calibration set can run, cached per calibration set.

        Args:
            calibration_set_id: a calibration set (default: the server's default set, fetched
                once per client).
            refresh: fetch again even if cached (e.g. after a recalibration).
        """
        self._require_open()
        key = (
            "default"
            if calibration_set_id is None
            else str(check_uuid(calibration_set_id, "calibration_set_id"))
        )
        async with self._fetch_lock(f"dqa:{key}"):
            cached = self._dqa_cache.get(key)
            if cached is not None and not refresh:
                return cached
            dqa = await self._transport.request(
                self.api.dynamic_architecture_route(key), self.api.read_dynamic_architecture
            )
            self._dqa_cache[key] = dqa
            self._dqa_cache[str(dqa.calibration_set_id)] = dqa
            return dqa

    async def quality_metrics(
        self, calibration_set_id: UUID | str | None = None, *, refresh: bool = False
    ) -> QualityMetrics:
        """The quality metrics of one calibration set, cached per set beside its dynamic
        architecture.

        The dynamic architecture is fetched first (or taken from its cache): the metrics are
        then asked for by its calibration set's UUID, so both describe the same set even if
        the server's default changes in between, and its default implementations pick
        among figures published for several implementations.

        A server that publishes no metrics (its metrics route answers 404, or its API has
        none) gives an empty :class:`QualityMetrics` (``is_empty``): callers treat every
        figure as unknown. Missing, invalid and non-numeric figures are absent, never
        perfect.

        Args:
            calibration_set_id: a calibration set (default: the server's default set).
            refresh: fetch both again even if cached (e.g. after a recalibration).

        Raises:
            NotFoundError: the server does not know the calibration set.
            InvalidResponseError: the metrics reply is not what the API says.
        """
        dqa = await self.dynamic_architecture(calibration_set_id, refresh=refresh)
        key = str(dqa.calibration_set_id)
        async with self._fetch_lock(f"metrics:{key}"):
            cached = self._metrics_cache.get(key)
            if cached is not None and not refresh:
                return cached
            defaults = {gate: info.default_implementation for gate, info in dqa.gates.items()}
            route = self.api.quality_metrics_route(key)
            metrics = QualityMetrics(calibration_set_id=dqa.calibration_set_id)
            if route is not None:
                with suppress(NotFoundError):  # 404: no metrics published, the empty set
                    metrics = await self._transport.request(
                        route,
                        lambda reply: self.api.read_quality_metrics(
                            reply, default_implementations=defaults
                        ),
                    )
            if metrics.calibration_set_id is None:
                metrics = replace(metrics, calibration_set_id=dqa.calibration_set_id)
            self._metrics_cache[key] = metrics
            return metrics

    def _fetch_lock(self, key: str) -> anyio.Lock:
        lock = self._fetch_locks.get(key)
        if lock is None:
            lock = self._fetch_locks[key] = anyio.Lock()
        return lock
