"""Authentication: credentials, token sources, and the ``httpx.Auth`` flow that uses them.

``resolve_credentials`` picks one complete set of credentials (arguments or ``IQM_*``
variables), ``build_auth`` turns it into an :class:`IQMAuth` that attaches bearer tokens,
refreshes them once however many requests wait, and replays a request once after a 401.
"""

from ._credentials import ENV_VARIABLES, Credentials, resolve_credentials
from ._flow import IQMAuth, build_auth
from ._server import AuthServerSource
from ._sources import APITokenSource, TokensFileSource, TokenSource

__all__ = [
    "ENV_VARIABLES",
    "APITokenSource",
    "AuthServerSource",
    "Credentials",
    "IQMAuth",
    "TokenSource",
    "TokensFileSource",
    "build_auth",
    "resolve_credentials",
]
