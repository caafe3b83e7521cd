"""The HTTP boundary: the one retry loop, the translation of httpx failures and error replies
into :mod:`iqm_async.errors`, redaction of server text, and the connection limit shared by
every request of a client. API requests and auth-server requests alike go through it.
"""

from ._redact import MAX_MESSAGE_CHARS, json_or_none, redact, server_message, shown_text
from ._retry import (
    AttemptFailed,
    ErrorReader,
    ServerErrorText,
    call_with_retries,
    error_from_exception,
    error_from_response,
    failure_from_exception,
    failure_from_response,
)
from ._transport import Route, Transport, request_deadline_s

__all__ = [
    "MAX_MESSAGE_CHARS",
    "AttemptFailed",
    "ErrorReader",
    "Route",
    "ServerErrorText",
    "Transport",
    "call_with_retries",
    "error_from_exception",
    "error_from_response",
    "failure_from_exception",
    "failure_from_response",
    "json_or_none",
    "redact",
    "request_deadline_s",
    "server_message",
    "shown_text",
]
