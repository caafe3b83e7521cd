"""The one retry loop, and the translation of failed HTTP attempts into our errors.

The pure half (no I/O): an httpx exception or an error response becomes a
:class:`~iqm_async.policies.Failure` (what the retry decision needs) and the matching
:mod:`iqm_async.errors` exception (what the caller gets if no retry follows). The loop,
:func:`call_with_retries`, runs an attempt until it succeeds or
:meth:`RetryPolicy.should_retry <iqm_async.policies.RetryPolicy.should_retry>` says stop,
sleeping the policy's delay (``Retry-After`` honoured, capped) after closing the failed reply.
API requests and auth-server requests both go through it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
import httpx
import tenacity

from ..errors import (
    APIStatusError,
    ConnectError,
    IQMError,
    RequestTimeoutError,
    SubmissionUncertainError,
    TransportError,
    error_for_status,
)
from ..policies import Failure, FailureKind, RetryPolicy, parse_retry_after
from ._redact import server_message, shown_text

__all__ = [
    "AttemptFailed",
    "ErrorReader",
    "ServerErrorText",
    "call_with_retries",
    "error_from_exception",
    "error_from_response",
    "failure_from_exception",
    "failure_from_response",
    "uncertain_cause",
]

T = TypeVar("T")


class AttemptFailed(Exception):
    """One attempt failed. ``failure`` feeds the retry decision, ``error`` is what the caller
    gets if no retry follows, ``response`` (if any) is closed before the next attempt.
    Internal: never leaves the SDK."""

    def __init__(
        self, failure: Failure, error: IQMError, response: httpx.Response | None = None
    ) -> None:
        super().__init__(str(error))
        self.failure = failure
        self.error = error
        self.response = response


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


@dataclass(frozen=True)
class ServerErrorText:
    """What an API variant reads out of an error reply: the message, and where its API has
    them, a machine-readable code and the reporting component."""

    message: str
    error_code: str | None = None
    source: str | None = None


ErrorReader = Callable[[httpx.Response], "str | ServerErrorText"]
"""Reads the server's explanation out of an error reply (an API variant's ``error_text``)."""


def error_from_response(
    response: httpx.Response,
    url: str,
    error_text: ErrorReader = server_message,
) -> IQMError:
    """The status error for an error response, carrying the server's message
    (read by ``error_text``, by default ``detail`` or ``message`` of a JSON body).

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
    text = error_text(response)
    if isinstance(text, str):
        text = ServerErrorText(text)
    return error_for_status(
        response.status_code,
        text.message,
        url=url,
        retry_after_s=failure.retry_after_s,
        error_code=text.error_code,
        source=text.source,
    )


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


# --- the loop ---------------------------------------------------------------------------------


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    until_cancelled: bool = False,
    submit: bool = False,
    give_up: Callable[[], bool] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds or ``policy`` says stop; raise the last error.

    ``attempt`` raises :class:`AttemptFailed` for a failure the policy should judge; any other
    exception (cancellation included) passes through at once.

    Args:
        attempt: one try.
        policy: which failures to retry, how often, and how long to wait between tries.
        until_cancelled: a wait for a known job: transient faults are retried until the
            caller's own deadline, not ``policy.max_attempts`` times.
        submit: the attempt submits a job: retried only when the server cannot have acted on
            it; a failure that may have created the job raises
            :class:`~iqm_async.errors.SubmissionUncertainError`.
        give_up: asked after each failure the policy would retry; ``True`` ends the loop with
            that failure's error (e.g. an unbounded wait once the server is unreachable).
    """

    def retry(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return (
            isinstance(exc, AttemptFailed)
            and policy.should_retry(
                exc.failure, state.attempt_number, submit=submit, unbounded=until_cancelled
            )
            and not (give_up is not None and give_up())
        )

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, AttemptFailed)
        return policy.delay_s(exc.failure, state.attempt_number, random.random())

    async def close_failed_reply(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, AttemptFailed) and exc.response is not None:
            await exc.response.aclose()  # its connection goes back before the sleep

    retrying = tenacity.AsyncRetrying(
        sleep=anyio.sleep,
        stop=tenacity.stop_never,
        wait=wait,
        retry=retry,
        before_sleep=close_failed_reply,
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
