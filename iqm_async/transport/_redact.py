"""Redaction of text that comes from outside before it enters one of our messages or logs.

Servers and proxies sometimes echo request headers or bodies, so a server's error text may
hold a bearer token; foreign exception messages may too. Everything shown to a user from a
reply goes through :func:`shown_text` or :func:`server_message`.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from typing import Any

import httpx

__all__ = [
    "MAX_MESSAGE_CHARS",
    "encoded_forms",
    "json_or_none",
    "redact",
    "server_message",
    "shown_text",
]

_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every given secret, in every form it travels in, and every JWT-shaped
    string replaced by ``***``.

    The forms are the raw secret, URL-encoded (``%40`` or ``+`` for a space: an auth server
    that echoes the login form), JSON-escaped, and base64 (standard and URL-safe, at any of
    the three alignments inside a longer base64 text such as ``Basic`` credentials). Used on
    text that comes from outside (server error bodies, foreign exception messages) before it
    goes into one of our exception messages or logs: a server may echo a token.
    """
    for secret in secrets:
        if secret:
            for form in encoded_forms(secret):
                text = text.replace(form, "***")
    return _JWT_SHAPE.sub("***", text)


_MIN_FRAGMENT = 6  # shorter base64 fragments would hide ordinary words, not secrets


@functools.lru_cache(maxsize=64)
def encoded_forms(secret: str) -> tuple[str, ...]:
    """The ways ``secret`` may appear in text a server echoes, longest first (so a form that
    contains another is replaced whole). Cached: the same few secrets are redacted often."""
    raw = secret.encode("utf-8")
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    for offset in range(3):
        # The secret's base64 digits after ``offset`` bytes of unknown text, without the
        # digits that depend on the bytes around it.
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
        start = -(-offset * 4 // 3)  # digits fully inside the unknown prefix, rounded up
        end = len(encoded) - (1 if (offset + len(raw)) % 3 else 0)
        fragment = encoded[start:end]
        if offset == 0:
            whole = base64.b64encode(raw).decode("ascii")
            for variant in (whole, whole.replace("+", "-").replace("/", "_")):
                forms.update((variant, variant.rstrip("=")))
        if len(fragment) >= _MIN_FRAGMENT:
            forms.add(fragment)
            forms.add(fragment.replace("+", "-").replace("/", "_"))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


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
