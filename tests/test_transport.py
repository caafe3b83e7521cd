"""The one retry loop (``call_with_retries``) and the HTTP boundary around it (``Transport``):
who decides, how long it sleeps, what it closes first, and what a submit may resend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

from iqm_async import errors
from iqm_async.policies import Failure, FailureKind, RetryPolicy
from iqm_async.transport import AttemptFailed, Route, Transport, call_with_retries
from iqm_async.transport import _retry as retry_module

pytestmark = pytest.mark.anyio

URL = "https://iqm.test/jobs"
CONNECT = Failure(FailureKind.CONNECT)
TIMEOUT = Failure(FailureKind.TIMEOUT)
DROPPED = Failure(FailureKind.DROPPED)


def status(code: int, retry_after_s: float | None = None) -> Failure:
    return Failure(FailureKind.STATUS, code, retry_after_s)


@dataclass(frozen=True)
class RecordingPolicy(RetryPolicy):
    """A RetryPolicy that records every retry decision it is asked for."""

    decisions: list[tuple[Failure, int, bool, bool, bool]] = field(
        default_factory=list, compare=False, hash=False
    )

    def should_retry(
        self, failure: Failure, attempt: int, *, submit: bool = False, unbounded: bool = False
    ) -> bool:
        decision = super().should_retry(failure, attempt, submit=submit, unbounded=unbounded)
        self.decisions.append((failure, attempt, submit, unbounded, decision))
        return decision


def fast(**kwargs: Any) -> RecordingPolicy:
    return RecordingPolicy(
        initial_backoff_s=0.001, max_backoff_s=0.005, jitter_fraction=0, **kwargs
    )


def error_for(failure: Failure) -> errors.IQMError:
    if failure.kind is FailureKind.STATUS:
        assert failure.status_code is not None
        return errors.error_for_status(failure.status_code, "server text", url=URL)
    if failure.kind is FailureKind.CONNECT:
        return errors.ConnectError("could not connect", url=URL)
    if failure.kind is FailureKind.TIMEOUT:
        return errors.RequestTimeoutError("no answer", url=URL)
    return errors.TransportError("dropped", url=URL)


class Attempts:
    """An attempt that fails with the given failures in turn, then answers ``"ok"``."""

    def __init__(self, *failures: Failure) -> None:
        self.failures = list(failures)
        self.count = 0
        self.errors: list[errors.IQMError] = []

    async def __call__(self) -> str:
        self.count += 1
        if self.count > len(self.failures):
            return "ok"
        failure = self.failures[self.count - 1]
        error = error_for(failure)
        self.errors.append(error)
        raise AttemptFailed(failure, error)


# --- who decides ---------------------------------------------------------------------------------


async def test_retries_as_the_policy_says_until_success() -> None:
    policy = fast()
    attempt = Attempts(CONNECT, status(502), TIMEOUT)
    assert await call_with_retries(attempt, policy) == "ok"
    assert attempt.count == 4
    assert policy.decisions == [
        (CONNECT, 1, False, False, True),
        (status(502), 2, False, False, True),
        (TIMEOUT, 3, False, False, True),
    ]


async def test_the_last_error_is_raised_when_the_policy_says_stop() -> None:
    policy = fast(max_attempts=3)
    attempt = Attempts(*[status(503)] * 5)
    with pytest.raises(errors.ServiceUnavailableError) as info:
        await call_with_retries(attempt, policy)
    assert attempt.count == 3
    assert info.value is attempt.errors[-1]
    assert [d[-1] for d in policy.decisions] == [True, True, False]


async def test_a_failure_the_policy_does_not_retry_is_raised_at_once() -> None:
    attempt = Attempts(status(404))
    with pytest.raises(errors.NotFoundError):
        await call_with_retries(attempt, fast())
    assert attempt.count == 1


async def test_other_exceptions_pass_through_undecided() -> None:
    policy = fast()
    count = 0

    async def attempt() -> str:
        nonlocal count
        count += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await call_with_retries(attempt, policy)
    assert count == 1 and not policy.decisions


# --- how long it sleeps --------------------------------------------------------------------------


async def test_retry_after_is_honoured() -> None:
    attempt = Attempts(status(503, retry_after_s=0.2))
    started = anyio.current_time()
    assert await call_with_retries(attempt, fast()) == "ok"
    assert anyio.current_time() - started >= 0.2  # not the 1 ms backoff


async def test_retry_after_is_capped() -> None:
    policy = fast(max_retry_after_s=0.05)
    attempt = Attempts(status(429, retry_after_s=60.0))
    started = anyio.current_time()
    with anyio.fail_after(10):
        assert await call_with_retries(attempt, policy) == "ok"
    assert 0.05 <= anyio.current_time() - started < 5


async def test_backoff_without_retry_after() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, backoff_multiplier=2, jitter_fraction=0)
    started = anyio.current_time()
    assert await call_with_retries(Attempts(status(502), status(502)), policy) == "ok"
    assert anyio.current_time() - started >= 0.3  # 0.1 + 0.2


# --- what it closes first ------------------------------------------------------------------------


class TrackedBody(httpx.AsyncByteStream):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"detail": "busy"}'

    async def aclose(self) -> None:
        self.log.append("closed")


async def test_the_failed_response_is_closed_before_the_sleep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    real_sleep = anyio.sleep

    async def sleep(seconds: float) -> None:
        log.append("sleep")
        await real_sleep(seconds)

    monkeypatch.setattr(retry_module.anyio, "sleep", sleep)
    responses: list[httpx.Response] = []

    async def attempt() -> str:
        log.append("attempt")
        if len(responses) == 2:
            return "ok"
        response = httpx.Response(503, stream=TrackedBody(log))
        responses.append(response)
        raise AttemptFailed(status(503), error_for(status(503)), response)

    assert await call_with_retries(attempt, fast()) == "ok"
    assert log == ["attempt", "closed", "sleep"] * 2 + ["attempt"]
    assert all(response.is_closed for response in responses)


# --- until_cancelled -----------------------------------------------------------------------------


async def test_until_cancelled_is_not_bounded_by_max_attempts_and_rides_out_500() -> None:
    policy = fast(max_attempts=2)
    faults = [status(500), status(502), CONNECT, DROPPED, status(500), status(429)]
    attempt = Attempts(*faults)
    assert await call_with_retries(attempt, policy, until_cancelled=True) == "ok"
    assert attempt.count == len(faults) + 1
    assert all(unbounded for _, _, _, unbounded, _ in policy.decisions)
    # Without it, a 500 is final and the attempts are bounded.
    with pytest.raises(errors.InternalServerError):
        await call_with_retries(Attempts(status(500)), fast())
    with pytest.raises(errors.BadGatewayError):
        await call_with_retries(Attempts(*[status(502)] * 3), fast(max_attempts=2))


async def test_until_cancelled_ends_with_the_caller_s_deadline() -> None:
    attempt = Attempts(*[status(503)] * 10_000)
    with anyio.move_on_after(0.2) as scope:
        await call_with_retries(attempt, fast(), until_cancelled=True)
    assert scope.cancelled_caught
    assert attempt.count > 5  # it kept trying until cancelled
    # A fault that is not transient still ends it at once.
    attempt = Attempts(status(404))
    with pytest.raises(errors.NotFoundError):
        await call_with_retries(attempt, fast(), until_cancelled=True)
    assert attempt.count == 1


# --- submit semantics ----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [CONNECT, status(429), status(503)])
async def test_a_submit_is_resent_only_when_it_cannot_have_been_acted_on(failure: Failure) -> None:
    policy = fast()
    attempt = Attempts(failure)
    assert await call_with_retries(attempt, policy, submit=True) == "ok"
    assert attempt.count == 2
    assert policy.decisions[0][2] is True  # asked with submit=True


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (TIMEOUT, f"no answer from {URL} within the request timeout"),
        (DROPPED, f"the connection to {URL} broke"),
        (status(500), f"the server at {URL} answered HTTP 500 (server text)"),
        (status(502), "answered HTTP 502"),
        (status(504), "answered HTTP 504"),
    ],
)
async def test_a_submit_that_may_have_created_the_job_is_never_resent(
    failure: Failure, cause: str
) -> None:
    attempt = Attempts(failure)
    with pytest.raises(errors.SubmissionUncertainError, match="may have created the job") as info:
        await call_with_retries(attempt, fast(), submit=True)
    assert attempt.count == 1
    assert cause in str(info.value)


async def test_a_refused_submit_raises_the_refusal() -> None:
    attempt = Attempts(status(400))
    with pytest.raises(errors.BadRequestError):
        await call_with_retries(attempt, fast(), submit=True)
    assert attempt.count == 1
    attempt = Attempts(*[status(429)] * 5)
    with pytest.raises(errors.RateLimitError):
        await call_with_retries(attempt, fast(max_attempts=3), submit=True)
    assert attempt.count == 3
    attempt = Attempts(*[CONNECT] * 5)
    with pytest.raises(errors.ConnectError):
        await call_with_retries(attempt, fast(max_attempts=2), submit=True)
    assert attempt.count == 2


# --- Transport ------------------------------------------------------------------------------------


def transport(
    handler: Callable[[httpx.Request], httpx.Response], policy: RetryPolicy | None = None
) -> Transport:
    http = httpx.AsyncClient(base_url="https://iqm.test/", transport=httpx.MockTransport(handler))
    return Transport(http, policy or fast(), max_connections=2)


async def test_transport_sends_routes_counts_them_and_retries_reads() -> None:
    replies = iter([httpx.Response(503), httpx.Response(200, json={"status": "ready"})])
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return next(replies)

    sender = transport(handler)
    route = Route("GET", "jobs/1/status", "status")
    assert await sender.request(route, lambda r: r.json()["status"]) == "ready"
    assert seen == [("GET", "/jobs/1/status")] * 2
    assert sender.request_count == 2 and sender.requests_by_kind == {"status": 2}
    await sender.http.aclose()


async def test_transport_send_once_raises_attempt_failed_with_the_reply() -> None:
    sender = transport(lambda request: httpx.Response(404, json={"detail": "no such job"}))
    with pytest.raises(AttemptFailed) as info:
        await sender.send_once(Route("GET", "jobs/1", "result"))
    assert info.value.failure == status(404)
    assert isinstance(info.value.error, errors.NotFoundError)
    assert "no such job" in str(info.value.error)
    assert info.value.response is not None and info.value.response.status_code == 404
    await sender.http.aclose()


async def test_transport_submit_is_not_resent_after_an_uncertain_failure() -> None:
    calls: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.content)
        if len(calls) == 1:
            return httpx.Response(503)  # refused unprocessed: resent
        if len(calls) == 2:
            return httpx.Response(200, json={"id": "job-1"})
        return httpx.Response(502)

    sender = transport(handler)
    route = Route("POST", "jobs", "submit")
    assert await sender.submit(route, b'{"a": 1}', lambda r: r.json()["id"]) == "job-1"
    assert calls == [b'{"a": 1}'] * 2
    with pytest.raises(errors.SubmissionUncertainError):
        await sender.submit(route, b'{"a": 2}', lambda r: r.json()["id"])
    assert len(calls) == 3
    assert sender.requests_by_kind == {"submit": 3}
    await sender.http.aclose()


async def test_transport_connect_errors_are_connect_failures() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    sender = transport(handler, fast(max_attempts=2))
    with pytest.raises(errors.ConnectError, match="Could not connect"):
        await sender.request(Route("GET", "quantum-architecture", "architecture"), lambda r: r)
    assert sender.request_count == 2
    await sender.http.aclose()
