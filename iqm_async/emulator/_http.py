"""What both route tables share: the route record, JSON replies, the emulator of a request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from fastapi import Request, Response

from .core import Emulator

__all__ = ["Route", "auth_problem", "emulator_of", "json_response", "raw_json"]

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}
"""Headers of every 401 reply."""


class Route(NamedTuple):
    """One route of a table: method, path template, handler, documented status."""

    method: str
    path: str
    endpoint: Callable[..., Awaitable[Response]]
    status_code: int | None = None  # documented in the OpenAPI schema; handlers set their own


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` as compact JSON."""
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def raw_json(body: bytes, status: int = 200) -> Response:
    """Prebuilt JSON bytes."""
    return Response(body, status_code=status, media_type="application/json")


def auth_problem(request: Request, em: Emulator) -> str | None:
    """Why the request is refused (its bearer token is missing or bad) when the emulator
    requires auth; ``None`` when it may go on. Each route table words the 401 its own way."""
    if not em.config.require_auth:
        return None
    return em.tokens.check_bearer(request.headers.get("authorization"))


def emulator_of(request: Request) -> Emulator:
    """The emulator of the app serving ``request`` (handlers hold no reference to it)."""
    emulator: Emulator = request.app.state.emulator
    return emulator
