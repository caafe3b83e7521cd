"""Request/response translation and the retrying HTTP layer of :class:`AsyncIQMClient`.

The pure half (no I/O): turning an httpx exception or an error response into a
:class:`~iqm_async.policies.Failure` and into the matching :mod:`iqm_async.errors` exception,
reading the server's error text, and parsing a reply body into a wire model. The I/O half,
:class:`Transport`, sends one request at a time through a connection limiter and retries
with tenacity as :class:`~iqm_async.policies.RetryPolicy` decides.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx
import tenacity
from pydantic import BaseModel, ValidationError

from ..api._v1_measurements import MeasurementArrays, split_measurements, split_metadata
from ..auth._tokens import server_message, shown_text
from ..errors import (
    APIStatusError,
    AuthServerUnavailableError,
    ConnectError,
    InvalidResponseError,
    IQMError,
    RequestTimeoutError,
    SubmissionUncertainError,
    TransportError,
    error_for_status,
)
from ..models import RunResult
from ..policies import Failure, FailureKind, RetryPolicy, parse_retry_after

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
_JSON_CONTENT = {"Content-Type": "application/json"}


class AttemptFailed(Exception):
    """One attempt failed. ``failure`` feeds the retry decision, ``error`` is what the user
    gets if no retry follows. Internal: never leaves this package."""

    def __init__(self, failure: Failure, error: IQMError) -> None:
        super().__init__(str(error))
        self.failure = failure
        self.error = error


# --- pure translation -------------------------------------------------------------------------


def failure_from_exception(exc: httpx.TransportError) -> Failure:
    """Classify an httpx transport exception by whether the request can have left."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure(FailureKind.CONNECT)
    if isinstance(exc, httpx.TimeoutException):
        return Failure(FailureKind.TIMEOUT)
    return Failure(FailureKind.DROPPED)


def error_from_exception(exc: httpx.TransportError, url: str) -> TransportError:
    """The :mod:`iqm_async.errors` exception for a request that got no usable answer."""
    kind = failure_from_exception(exc).kind
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if kind is FailureKind.CONNECT:
        return ConnectError(
            f"Could not connect to {url} ({detail}). Check the URL, the network and that the "
            "server is up.",
            url=url,
        )
    if kind is FailureKind.TIMEOUT:
        return RequestTimeoutError(
            f"No answer from {url} in time ({detail}). The server may be busy; retry later or "
            "raise the client's timeout.",
            url=url,
        )
    return TransportError(
        f"The connection to {url} broke before a complete answer ({detail}). Retry later.",
        url=url,
    )


def failure_from_response(response: httpx.Response) -> Failure:
    """Classify an error response, reading its ``Retry-After``."""
    retry_after = parse_retry_after(response.headers.get("retry-after"), now_epoch_s=time.time())
    return Failure(FailureKind.STATUS, response.status_code, retry_after)


def error_from_response(response: httpx.Response, url: str) -> IQMError:
    """The status error for an error response, carrying the server's message.

    A redirect (3xx) is never followed, so that the ``Authorization`` header and request
    bodies never reach a host the user did not name; its error says where it pointed.
    """
    failure = failure_from_response(response)
    if response.is_redirect:
        location = response.headers.get("location", "(no Location header)")
        return APIStatusError(
            response.status_code,
            f"redirect to {shown_text(response, location)}",
            url=url,
            hint=(
                "The client does not follow redirects, so credentials never go to another "
                "host. If that is the server's new address, use it as the client's URL."
            ),
        )
    return error_for_status(
        response.status_code,
        server_message(response),
        url=url,
        retry_after_s=failure.retry_after_s,
    )


def validation_problems(exc: ValidationError) -> str:
    """The first three problems of a reply that did not parse, each as ``where: what``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
        for err in exc.errors()[:3]
    )


def parse_reply(
    response: httpx.Response, model: type[ModelT], what: str, content: bytes | None = None
) -> ModelT:
    """Parse a success reply into ``model``; anything else is an :class:`InvalidResponseError`.

    ``what`` names the reply for the message, e.g. ``"job status"``; ``content`` replaces the
    reply's body when given.
    """
    url = str(response.request.url)
    try:
        # One pass from bytes to model: json.loads then model_validate built every per-shot
        # list twice and left the garbage collector a large heap to walk (~3x slower).
        return model.model_validate_json(response.content if content is None else content)
    except ValidationError as exc:
        errors = exc.errors()
        if any(err["type"] == "json_invalid" for err in errors):
            kind = response.headers.get("content-type", "no content type")
            snippet = shown_text(response, response.text.strip(), 80)
            raise InvalidResponseError(
                f"The {what} from {url} is not JSON ({kind}; starts with {snippet!r}). Check "
                "that the URL points at an IQM server (not a login page or proxy).",
                url=url,
            ) from None
        problems = validation_problems(exc)
        raise InvalidResponseError(
            f"The {what} from {url} is not what the IQM protocol says ({problems}). Check "
            "that the URL points at a supported IQM server version.",
            url=url,
        ) from None


@dataclass(frozen=True)
class ResultReply:
    """A job result reply, read so that its bulk is built only when asked for.

    Attributes:
        result: status, message and warnings; its ``measurements`` are None when
            ``arrays`` holds them, and its ``metadata`` is empty when ``metadata_json`` does.
        arrays: the measurements as arrays (see :mod:`._wire_measurements`), or None.
        metadata_json: the metadata object's JSON, not parsed yet, or None.
    """

    result: RunResult
    arrays: MeasurementArrays | None = None
    metadata_json: bytes | None = None


def parse_result_reply(response: httpx.Response) -> ResultReply:
    """A job result reply: measurements as arrays and metadata left as JSON when the body is
    in the plain form servers send; otherwise the whole body parsed the ordinary way.
    """
    content = response.content
    split = split_measurements(content)
    arrays = None
    if split is not None:
        content, arrays = split
    cut = split_metadata(content)
    metadata_json = None
    if cut is not None:
        content, metadata_json = cut
    result = parse_reply(response, RunResult, "job result", content=content)
    if arrays is not None and result.measurements is not None:
        # A second "measurements" key (invalid JSON, but parsers take the last): read it all.
        return ResultReply(parse_reply(response, RunResult, "job result"))
    return ResultReply(result, arrays, metadata_json)


def job_id_from_reply(response: httpx.Response) -> str:
    """The job id in a submit reply ``{"id": "<uuid>"}``."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    job_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        url = str(response.request.url)
        got = shown_text(response, response.text.strip(), 80)
        raise InvalidResponseError(
            f"The submit reply from {url} has no job id (expected {{'id': '<uuid>'}}, got "
            f"{got!r}). The job may exist: check your recent jobs on the server before "
            "submitting again.",
            url=url,
        )
    return job_id


# --- I/O --------------------------------------------------------------------------------------


class Transport:
    """Sends requests through one ``httpx.AsyncClient`` with a connection limit and retries.

    Args:
        http: the client's ``httpx.AsyncClient`` (base URL, auth and timeouts set).
        retry: the retry policy.
        max_connections: requests in flight at once; more wait here, not in httpx's pool,
            so a long queue never trips the pool timeout.
    """

    def __init__(self, http: httpx.AsyncClient, retry: RetryPolicy, max_connections: int) -> None:
        self.http = http
        self.retry = retry
        self.limiter = anyio.CapacityLimiter(max_connections)
        self.request_count = 0
        self.requests_by_kind: dict[str, int] = {}

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` (for messages; it holds no credentials)."""
        return str(self.http.base_url.join(path))

    async def send_once(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        body: dict[str, Any] | bytes | None = None,
        limited: bool = True,
    ) -> httpx.Response:
        """Send one request; a success response is returned, anything else raises
        :class:`AttemptFailed`.

        ``kind`` labels the request in :attr:`requests_by_kind` (``"status"``, ``"submit"``, ...).
        ``limited=False`` when the caller already holds a connection slot.
        """
        if limited:
            async with self.limiter:
                return await self._send(method, path, kind, body)
        return await self._send(method, path, kind, body)

    async def _send(
        self, method: str, path: str, kind: str, body: dict[str, Any] | bytes | None
    ) -> httpx.Response:
        self.request_count += 1
        self.requests_by_kind[kind] = self.requests_by_kind.get(kind, 0) + 1
        try:
            if isinstance(body, bytes):  # JSON already serialised by the model (faster)
                response = await self.http.request(
                    method, path, content=body, headers=_JSON_CONTENT
                )
            else:
                response = await self.http.request(method, path, json=body)
        except AuthServerUnavailableError as exc:
            # No token could be fetched, so this request never left: like a connect error.
            raise AttemptFailed(Failure(FailureKind.CONNECT), exc) from None
        except httpx.TransportError as exc:
            # URLs are built for messages only when something failed: joining costs time.
            no_answer = error_from_exception(exc, self.url_for(path))
            raise AttemptFailed(failure_from_exception(exc), no_answer) from None
        if response.is_success:
            return response
        refusal = error_from_response(response, str(response.request.url))
        raise AttemptFailed(failure_from_response(response), refusal)

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        max_attempts: int | None,
        submit: bool = False,
    ) -> T:
        """Run ``attempt`` with retries; ``max_attempts=None`` retries transient faults until
        the caller's deadline (a wait on a known job). The last error is raised translated."""
        policy = self.retry

        def retryable(exc: BaseException) -> bool:
            # Matches only our own attempt failures, never cancellation.
            if not isinstance(exc, AttemptFailed):
                return False
            if submit:
                return policy.submit_retryable(exc.failure)
            return policy.is_transient(exc.failure, waiting=max_attempts is None)

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            assert isinstance(exc, AttemptFailed)
            return policy.delay_s(exc.failure, state.attempt_number, random.random())

        stop: tenacity.stop.stop_base = (
            tenacity.stop_never
            if max_attempts is None
            else tenacity.stop_after_attempt(max_attempts)
        )
        retrying = tenacity.AsyncRetrying(
            sleep=anyio.sleep,
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(retryable),
            reraise=True,
        )
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    return await attempt()
        except AttemptFailed as exc:
            if submit and policy.submit_uncertain(exc.failure):
                raise SubmissionUncertainError(
                    uncertain_cause(exc.failure, exc.error), url=_url_of(exc.error)
                ) from None
            raise exc.error from None
        raise AssertionError("tenacity ended without an outcome")  # pragma: no cover

    async def get(
        self, path: str, model: type[ModelT], *, what: str, kind: str, max_attempts: int | None
    ) -> ModelT:
        """GET ``path`` and parse the reply into ``model``, retrying transient faults."""

        async def attempt() -> ModelT:
            response = await self.send_once("GET", path, kind=kind)
            return parse_reply(response, model, what)

        return await self.call(attempt, max_attempts=max_attempts)

    async def get_result(self, path: str, *, max_attempts: int | None) -> ResultReply:
        """GET a job result (see :func:`parse_result_reply`), retrying transient faults."""

        async def attempt() -> ResultReply:
            response = await self.send_once("GET", path, kind="result")
            return parse_result_reply(response)

        return await self.call(attempt, max_attempts=max_attempts)

    async def submit(self, body: dict[str, Any] | bytes) -> str:
        """POST a job; the job id. Retried only when the server cannot have acted on it."""

        async def attempt() -> str:
            response = await self.send_once("POST", "jobs", kind="submit", body=body)
            return job_id_from_reply(response)

        return await self.call(attempt, max_attempts=self.retry.max_attempts, submit=True)


def uncertain_cause(failure: Failure, error: IQMError) -> str:
    """What happened to a submission whose outcome is unknown, for the error message."""
    url = _url_of(error) or "the server"
    if isinstance(error, APIStatusError):
        text = error.server_message.strip() or "(empty body)"
        return f"the server at {url} answered HTTP {error.status_code} ({text})"
    if failure.kind is FailureKind.TIMEOUT:
        return f"no answer from {url} within the request timeout"
    return f"the connection to {url} broke before the answer arrived"


def _url_of(error: IQMError) -> str | None:
    url = getattr(error, "url", None)
    return url if isinstance(url, str) else None
