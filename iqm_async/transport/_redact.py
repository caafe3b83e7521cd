"""Redaction of text that comes from outside before it enters one of our messages or logs.

Servers and proxies sometimes echo request headers or bodies, so a server's error text may
hold a bearer token; foreign exception messages may too. Everything shown to a user from a
reply goes through :func:`shown_text` or :func:`server_message`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

__all__ = ["MAX_MESSAGE_CHARS", "json_or_none", "redact", "server_message", "shown_text"]

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every given secret and every JWT-shaped string replaced by ``***``.

    Used on text that comes from outside (server error bodies, foreign exception messages)
    before it goes into one of our exception messages or logs: a server may echo a token.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _JWT_SHAPE.sub("***", text)


MAX_MESSAGE_CHARS = 500
"""Most characters of a server's text put into one of our messages."""
_REDACT_WINDOW = 8192  # characters past a cut still searched for a token that spans it


def shown_text(
    response: httpx.Response,
    text: str,
    limit: int = MAX_MESSAGE_CHARS,
    secrets: tuple[str, ...] = (),
) -> str:
    """``text`` from a reply, cut to ``limit`` characters, fit for a message: the request's
    bearer token, ``secrets`` and anything shaped like a JWT are replaced by ``***`` (servers
    and proxies sometimes echo the request headers)."""
    try:
        header = response.request.headers.get("authorization", "")
    except RuntimeError:  # a response built without a request
        header = ""
    token = header.partition(" ")[2].strip()
    # Redact before cutting, so a token across the cut is not half shown; bound the work.
    hidden = (token, *secrets) if token else secrets
    return redact(text[: limit + _REDACT_WINDOW], hidden)[:limit]


def server_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The server's error text: FastAPI ``detail``, else ``message``, else the raw body;
    redacted as :func:`shown_text` does."""
    body = json_or_none(response)
    if isinstance(body, dict):
        for key in ("detail", "message"):
            found = body.get(key)
            if found:
                text = found if isinstance(found, str) else json.dumps(found)
                return shown_text(response, text, secrets=secrets)
    return shown_text(response, response.text.strip(), secrets=secrets)


def json_or_none(response: httpx.Response) -> Any:
    """The reply's body parsed as JSON, or ``None`` when it is not JSON: not UTF-8, not
    JSON, or nested too deeply to parse (a reply must never raise a foreign exception)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
