"""Authentication: credentials, token sources, and the ``httpx.Auth`` that uses them.

Typical use (what :class:`~iqm_async.client.AsyncIQMClient` does)::

    credentials = resolve_credentials(tokens_file=path)      # or from IQM_* variables
    auth = build_auth(credentials)                           # None: no credentials at all
    async with httpx.AsyncClient(base_url=url, auth=auth) as http:
        ...
    if auth is not None:
        await auth.aclose()                                  # logs out of the auth server

:class:`IQMAuth` attaches ``Authorization: Bearer <token>``. Tokens are refreshed shortly
before they expire; on a 401 the token is refreshed once and the request replayed once. Each
token source has one lock, so a thousand requests that find the token expired cause one
token request. Tokens and passwords never appear in logs, reprs or exception messages.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import anyio
import httpx

from ..errors import ConfigurationError, UnauthorizedError
from ..transport import server_message
from ._credentials import Credentials
from ._server import AuthServerSource
from ._sources import APITokenSource, TokensFileSource, TokenSource

__all__ = ["IQMAuth", "build_auth"]


class IQMAuth(httpx.Auth):
    """An ``httpx.Auth`` that sends bearer tokens from a :class:`TokenSource` (async only).

    On a 401 it refreshes the token once (however many requests got the 401 for the same
    token, the source is asked for a new one once) and replays the request once. A second 401,
    or a source that has no newer token to offer, raises
    :class:`~iqm_async.errors.UnauthorizedError` (an ``AuthenticationError``) carrying the
    server's message.

    Args:
        source: where tokens come from; this object owns it and closes it in :meth:`aclose`.
    """

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        # Serialises reactions to 401s, so N requests refused with one token cause one refresh.
        self._renew_lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"IQMAuth(source={self.source!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Refuse: token sources do async I/O, so use an ``httpx.AsyncClient``."""
        raise ConfigurationError(
            "IQMAuth works only with httpx.AsyncClient (token refresh is async). Use "
            "iqm_async's async client, or IQMBackend for synchronous code."
        )
        yield request  # pragma: no cover  (makes this a generator, as httpx expects)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Attach the token; on a 401 refresh once and replay once."""
        token = await self.source.get_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        new_token = await self._token_after_refusal(token)
        if new_token == token:
            raise self._refused(request, response, (token,), replayed=False)
        request.headers["Authorization"] = f"Bearer {new_token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            raise self._refused(request, response, (token, new_token), replayed=True)

    async def _token_after_refusal(self, refused: str) -> str:
        async with self._renew_lock:
            current = await self.source.get_token()
            if current != refused:
                return current  # another request already replaced the refused token
            return await self.source.get_token(force_refresh=True)

    @staticmethod
    def _refused(
        request: httpx.Request, response: httpx.Response, tokens: tuple[str, ...], *, replayed: bool
    ) -> UnauthorizedError:
        if replayed:
            hint = (
                "The server refused a freshly obtained token too; check that the credentials "
                "belong to this server and that your account may use it."
            )
        else:
            hint = (
                "No newer token was available; check or renew the token (IQM_TOKEN / token=), "
                "or log in again so that the tokens file is refreshed."
            )
        url = str(request.url.copy_with(query=None))
        return UnauthorizedError(401, server_message(response, tokens), url=url, hint=hint)

    async def aclose(self) -> None:
        """Close the token source (an auth-server session is logged out). Idempotent."""
        await self.source.aclose()


def build_auth(
    credentials: Credentials | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 60.0,
) -> IQMAuth | None:
    """The :class:`IQMAuth` for resolved credentials, or ``None`` when there are none.

    Args:
        credentials: from :func:`resolve_credentials`.
        transport: httpx transport for auth-server calls (default httpx's own; tests pass
            ``httpx.ASGITransport(app)``). Ignored for token and tokens-file credentials.
        timeout: per-request timeout of auth-server calls in seconds (default 60).
    """
    if credentials is None:
        return None
    if credentials.kind == "token":
        assert credentials.token is not None
        return IQMAuth(APITokenSource(credentials.token))
    if credentials.kind == "tokens_file":
        assert credentials.tokens_file is not None
        return IQMAuth(TokensFileSource(credentials.tokens_file))
    assert credentials.auth_server_url and credentials.username and credentials.password
    return IQMAuth(
        AuthServerSource(
            credentials.auth_server_url,
            credentials.username,
            credentials.password,
            transport=transport,
            timeout=timeout,
        )
    )
