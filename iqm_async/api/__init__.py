"""Server API variants: the one place that knows a server API's routes, bodies and words.

Each variant is a :class:`ServerAPI`: the :class:`Route` of every operation, the bytes of a
run request, and how each reply reads into the neutral types of :mod:`iqm_async.results`.
``AsyncIQMClient(url, api=...)`` takes a variant or its name:

- ``"cocos"``: the V1 "CoCoS" jobs API of iqm-client 22.x and pytket-iqm 0.18
  (:class:`CocosV1`, the default).
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..transport import Route
from ._base import ServerAPI, check_uuid, parse_reply, validation_problems
from .cocos import CocosV1

__all__ = [
    "API_NAMES",
    "CocosV1",
    "Route",
    "ServerAPI",
    "check_uuid",
    "parse_reply",
    "resolve_api",
    "validation_problems",
]

_VARIANTS: dict[str, type[ServerAPI]] = {CocosV1.name: CocosV1}
API_NAMES = tuple(_VARIANTS)
"""The names ``AsyncIQMClient(api=...)`` accepts."""


def resolve_api(api: ServerAPI | str) -> ServerAPI:
    """The variant named ``api`` (or ``api`` itself, if it is one).

    Raises:
        ConfigurationError: an unknown name, or neither a name nor a :class:`ServerAPI`.
    """
    if isinstance(api, ServerAPI):
        return api
    if isinstance(api, str) and api in _VARIANTS:
        return _VARIANTS[api]()
    raise ConfigurationError(
        f"api must be one of {list(API_NAMES)} or a ServerAPI instance, got {api!r}."
    )
