"""The one exception tree of iqm_async.

Every error the SDK raises derives from :class:`IQMError`, and foreign exceptions (httpx,
tenacity, pydantic) are translated at the boundary so callers never need to catch them::

    IQMError
    ├── TransportError                  no usable response arrived
    │   ├── ConnectError                the request never reached the server
    │   │   └── AuthServerUnavailableError  no token: the auth server could not be reached
    │   └── RequestTimeoutError         the server did not answer in time
    ├── APIStatusError                  the server answered with an error status
    │   ├── BadRequestError             400
    │   ├── UnauthorizedError           401 (also an AuthenticationError)
    │   ├── ForbiddenError              403
    │   ├── NotFoundError               404
    │   ├── ConflictError               409
    │   ├── PayloadTooLargeError        413
    │   ├── UnprocessableEntityError    422
    │   ├── RateLimitError              429
    │   └── ServerError                 5xx
    │       ├── InternalServerError     500
    │       ├── BadGatewayError         502
    │       ├── ServiceUnavailableError 503
    │       └── GatewayTimeoutError     504
    ├── InvalidResponseError            a 2xx reply that is not what the protocol says
    ├── ClientClosedError               the client was used after it closed (a RuntimeError)
    ├── JobError                        the outcome of one job
    │   ├── JobFailedError              the server ran the job and it failed
    │   ├── JobAbortedError             the job was aborted (or deleted)
    │   ├── JobTimeoutError             a wait ended before the job did (the job goes on)
    │   ├── SubmissionUncertainError    a submit failed in a way that may have created a job
    │   └── PartialSubmissionError      some jobs of a batch were submitted, some not
    └── InputError                      bad input (a ValueError too), raised before any request
        ├── CircuitValidationError
        ├── ConfigurationError
        └── AuthenticationError         credentials missing, unreadable, expired or refused

Messages say what went wrong and what to do. They never contain a token or a password.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIStatusError",
    "AuthServerUnavailableError",
    "AuthenticationError",
    "BadGatewayError",
    "BadRequestError",
    "CircuitValidationError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "ForbiddenError",
    "GatewayTimeoutError",
    "IQMError",
    "InputError",
    "InternalServerError",
    "InvalidResponseError",
    "JobAbortedError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PartialSubmissionError",
    "PayloadTooLargeError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "ServiceUnavailableError",
    "SubmissionUncertainError",
    "TransportError",
    "UnauthorizedError",
    "UnprocessableEntityError",
    "error_for_status",
]


class IQMError(Exception):
    """Root of every exception raised by iqm_async."""


# --- no usable response ---------------------------------------------------------------------


class TransportError(IQMError):
    """No usable HTTP response arrived (connection failed, dropped or timed out)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ConnectError(TransportError):
    """The connection could not be opened, so the request never reached the server."""


class AuthServerUnavailableError(ConnectError):
    """The auth server could not be reached (no connection, 429 or 5xx) after retries.

    A passing outage, not refused credentials: no API request was sent for lack of a token,
    so the client treats it like a connection error (retried, never a lost job).
    """


class RequestTimeoutError(TransportError):
    """The server did not answer one request within the client's per-request timeout."""


# --- bad status -----------------------------------------------------------------------------


class APIStatusError(IQMError):
    """The server answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status of the reply.
        server_message: the error text the server sent (FastAPI ``detail`` or ``message``),
            or the raw body when it was not JSON.
        url: the URL requested, without credentials.
        retry_after_s: the server's ``Retry-After`` in seconds, when it sent one.
        error_code: the server's machine-readable error code, where its API sends one.
        source: the server component that reported the error (e.g. ``"iqm-server"``), where
            its API says.
    """

    default_hint = "Check the request and the server's message."

    def __init__(
        self,
        status_code: int,
        server_message: str,
        *,
        url: str | None = None,
        retry_after_s: float | None = None,
        hint: str | None = None,
        error_code: str | None = None,
        source: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.server_message = server_message
        self.url = url
        self.retry_after_s = retry_after_s
        self.error_code = error_code
        self.source = source
        where = f" from {url}" if url else ""
        text = server_message.strip() or "(empty body)"
        super().__init__(f"HTTP {status_code}{where}: {text}. {hint or self.default_hint}")


class BadRequestError(APIStatusError):
    """400: the server refused the request as invalid (e.g. a shot count above the limit)."""

    default_hint = "The server rejected the request; fix the input it names."


class ForbiddenError(APIStatusError):
    """403: the credentials are valid but not allowed to do this."""

    default_hint = "Your account is not allowed to do this; check its permissions or limits."


class NotFoundError(APIStatusError):
    """404: no such job, calibration set or route on this server."""

    default_hint = "Check the id and that the URL points at an IQM server of a supported version."


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's state (e.g. aborting a finished job)."""

    default_hint = "The resource is in a state that does not allow this."


class PayloadTooLargeError(APIStatusError):
    """413: the request body is too large for the server."""

    default_hint = "Split the batch into smaller jobs."


class UnprocessableEntityError(APIStatusError):
    """422: the server could not validate the request body."""

    default_hint = "The server could not validate the request; fix the fields it names."


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after_s`` says when to try again."""

    default_hint = "The server is throttling this account; slow down or retry later."


class ServerError(APIStatusError):
    """A 5xx answer: the server (or a proxy in front of it) failed."""

    default_hint = "The server failed; retry later."


class InternalServerError(ServerError):
    """500."""


class BadGatewayError(ServerError):
    """502: a proxy in front of the server got no good answer."""


class ServiceUnavailableError(ServerError):
    """503: the server is overloaded or down for maintenance."""


class GatewayTimeoutError(ServerError):
    """504: a proxy in front of the server timed out."""


# --- bad server reply -----------------------------------------------------------------------


class InvalidResponseError(IQMError):
    """A success reply whose body is not what the protocol says (not JSON, missing fields)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ClientClosedError(IQMError, RuntimeError):
    """The client (or the backend around it) was used after it was closed; make a new one."""


# --- job outcomes ---------------------------------------------------------------------------


class JobError(IQMError):
    """The outcome of one job. ``job_id`` names it (``None`` if the server never said)."""

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class JobFailedError(JobError):
    """The server ran (or tried to run) the job and it failed; ``server_message`` says why."""

    def __init__(self, job_id: str, server_message: str | None) -> None:
        self.server_message = server_message
        super().__init__(
            f"Job {job_id} failed on the server: {server_message or 'no message given'}",
            job_id=job_id,
        )


class JobAbortedError(JobError):
    """The job was aborted (by a user or the server) or deleted before it produced results."""

    def __init__(self, job_id: str, status: str, server_message: str | None = None) -> None:
        self.status = status
        self.server_message = server_message
        detail = f": {server_message}" if server_message else ""
        super().__init__(f"Job {job_id} ended as '{status}' with no results{detail}", job_id=job_id)


class JobTimeoutError(JobError):
    """A wait ended before the job finished. The job goes on and can be waited for again."""

    def __init__(self, job_id: str, waited_s: float, last_status: str | None = None) -> None:
        self.waited_s = waited_s
        self.last_status = last_status
        seen = f" (last status: '{last_status}')" if last_status else ""
        super().__init__(
            f"Job {job_id} did not finish within {waited_s:.1f} s{seen}. It is still on the "
            "server: wait again with client.job(job_id).result(), or abort it.",
            job_id=job_id,
        )


class SubmissionUncertainError(JobError):
    """A submit failed after the request may have reached the server.

    The job may or may not exist; the client never resubmits on its own, because a job
    submitted twice costs QPU time. ``cause`` says what happened.
    """

    def __init__(self, cause: str, *, url: str | None = None) -> None:
        self.cause = cause
        self.url = url
        super().__init__(
            f"Submission outcome unknown: {cause}. The server may have created the job. Check "
            "your recent jobs on the server before submitting again, or resubmit if a "
            "duplicate run is acceptable.",
            job_id=None,
        )


class PartialSubmissionError(JobError):
    """Some jobs of a multi-job submission were created and some were not.

    Attributes:
        handles: one entry per input item, the handle (or job) of those submitted and
            ``None`` for the rest; keep them, the submitted jobs run.
        errors: the error of each job that was not submitted.
    """

    def __init__(self, handles: list[Any], errors: list[IQMError]) -> None:
        self.handles = handles
        self.errors = errors
        done = sum(h is not None for h in handles)
        super().__init__(
            f"{done} of {len(handles)} items were submitted; {len(errors)} job(s) failed to "
            f"submit, first: {errors[0]}. The submitted ones run: keep .handles and resubmit "
            "only the items that are None."
        )


# --- bad input ------------------------------------------------------------------------------


class InputError(IQMError, ValueError):
    """Bad input from the caller: a circuit, a configuration value or credentials.

    Also a ``ValueError``, so code written for pytket backends that catches ValueError for bad
    input (e.g. a missing ``n_shots``) keeps working.
    """


class CircuitValidationError(InputError):
    """A circuit the device cannot run as given; the message names the problem and the fix."""


class ConfigurationError(InputError):
    """An invalid or incomplete configuration (URL, options, credential combination)."""


class AuthenticationError(InputError):
    """Credentials are missing, unreadable, expired, or were refused by the server."""


class UnauthorizedError(APIStatusError, AuthenticationError):
    """401: the server refused the credentials."""

    default_hint = "The server refused the credentials; log in again or check the token."


_ERROR_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    500: InternalServerError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
    504: GatewayTimeoutError,
}


def error_for_status(
    status_code: int,
    server_message: str,
    *,
    url: str | None = None,
    retry_after_s: float | None = None,
    error_code: str | None = None,
    source: str | None = None,
) -> APIStatusError:
    """Build the exception that matches an HTTP error status (no I/O; the caller raises it)."""
    cls = _ERROR_BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else APIStatusError
    return cls(
        status_code,
        server_message,
        url=url,
        retry_after_s=retry_after_s,
        error_code=error_code,
        source=source,
    )
