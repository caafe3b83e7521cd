"""The exception tree: status mapping and messages that say what to do."""

from __future__ import annotations

import pytest

from iqm_async import errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.UnauthorizedError),
        (403, errors.ForbiddenError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (413, errors.PayloadTooLargeError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (502, errors.BadGatewayError),
        (503, errors.ServiceUnavailableError),
        (504, errors.GatewayTimeoutError),
        (507, errors.ServerError),
        (418, errors.APIStatusError),
    ],
)
def test_error_for_status(status: int, cls: type[errors.APIStatusError]) -> None:
    exc = errors.error_for_status(status, "server says no", url="http://h/jobs")
    assert type(exc) is cls
    assert exc.status_code == status
    assert f"HTTP {status} from http://h/jobs: server says no" in str(exc)
    assert isinstance(exc, errors.IQMError)


def test_unauthorized_is_also_an_authentication_error() -> None:
    exc = errors.error_for_status(401, "expired")
    assert isinstance(exc, errors.AuthenticationError)
    assert isinstance(exc, errors.InputError)


def test_retry_after_is_kept() -> None:
    exc = errors.error_for_status(429, "slow down", retry_after_s=2.5)
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after_s == 2.5


def test_families_are_separate() -> None:
    assert not issubclass(errors.TransportError, errors.APIStatusError)
    assert not issubclass(errors.JobError, errors.APIStatusError)
    assert not issubclass(errors.InputError, errors.JobError)
    assert issubclass(errors.ConnectError, errors.TransportError)
    assert issubclass(errors.SubmissionUncertainError, errors.JobError)
    # No token means the request never left: a connection failure, not bad input.
    assert issubclass(errors.AuthServerUnavailableError, errors.ConnectError)
    assert not issubclass(errors.AuthServerUnavailableError, errors.InputError)
    assert not issubclass(errors.AuthServerUnavailableError, errors.AuthenticationError)


def test_use_after_close_is_a_runtime_error_not_bad_input() -> None:
    assert issubclass(errors.ClientClosedError, errors.IQMError)
    assert issubclass(errors.ClientClosedError, RuntimeError)
    assert not issubclass(errors.ClientClosedError, errors.ConfigurationError)


def test_job_messages_say_what_to_do() -> None:
    timeout = errors.JobTimeoutError("abc", 12.5, "pending execution")
    assert "abc" in str(timeout) and "12.5 s" in str(timeout) and "wait again" in str(timeout)
    uncertain = errors.SubmissionUncertainError("read timeout after the body was sent")
    assert "may have created the job" in str(uncertain)
    failed = errors.JobFailedError("j1", "bad qubit QB99")
    assert failed.job_id == "j1" and "bad qubit QB99" in str(failed)
    aborted = errors.JobAbortedError("j2", "aborted")
    assert "'aborted'" in str(aborted)
