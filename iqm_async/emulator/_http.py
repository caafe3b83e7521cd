"""What both route tables share: the route record, JSON replies, the emulator of a request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from fastapi import Request, Response

from .core import Emulator

__all__ = ["Route", "emulator_of", "json_response", "raw_json"]


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


def emulator_of(request: Request) -> Emulator:
    """The emulator of the app serving ``request`` (handlers hold no reference to it)."""
    emulator: Emulator = request.app.state.emulator
    return emulator
