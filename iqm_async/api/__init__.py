"""Server API variants: the one place that knows a server API's routes, bodies and words.

Each variant is a :class:`ServerAPI`: the :class:`Route` of every operation, the bytes of a
run request, and how each reply reads into the neutral types of :mod:`iqm_async.results`.
``AsyncIQMClient(url, api=...)`` takes a variant or its name:

- ``"cocos"``: the V1 "CoCoS" jobs API of iqm-client 22.x and pytket-iqm 0.18
  (:class:`CocosV1`);
- ``"iqm-server"``: the IQM Server API v1 of IQM Resonance and current servers
  (:class:`IQMServerV1`, for one quantum computer);
- ``"auto"`` (the client's default): whichever the server speaks, asked once when the client
  opens.
"""

from __future__ import annotations

from ..transport import Route
from ._base import ServerAPI, check_uuid, parse_reply, read_submit_reply, validation_problems
from ._select import API_NAMES, choose_api, resolve_api
from .cocos import CocosV1
from .iqm_server import QUANTUM_COMPUTERS_ROUTE, IQMServerV1, read_quantum_computers
from .iqm_server_wire import QuantumComputer

__all__ = [
    "API_NAMES",
    "QUANTUM_COMPUTERS_ROUTE",
    "CocosV1",
    "IQMServerV1",
    "QuantumComputer",
    "Route",
    "ServerAPI",
    "check_uuid",
    "choose_api",
    "parse_reply",
    "read_quantum_computers",
    "read_submit_reply",
    "resolve_api",
    "validation_problems",
]
