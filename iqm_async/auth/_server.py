"""The auth-server token source: password grant, refresh grant, logout (Keycloak-style).

Kept apart from the simpler sources in ``_sources`` because it is the one that does HTTP:
its own small ``httpx.AsyncClient``, and error translation. Its retries are the SDK's one
retry loop (:func:`iqm_async.transport.call_with_retries`) under a :class:`RetryPolicy`.
"""

from __future__ import annotations

import time
import urllib.parse

import anyio
import httpx

from ..errors import AuthenticationError, AuthServerUnavailableError, ConfigurationError
from ..policies import RetryPolicy
from ..transport import (
    AttemptFailed,
    call_with_retries,
    failure_from_exception,
    failure_from_response,
    json_or_none,
    redact,
)
from ._sources import Clock, closed_error, logger
from ._tokens import DEFAULT_REFRESH_MARGIN_S, CachedToken, read_token_expiry

__all__ = ["AuthServerSource"]


class _BorrowedTransport(httpx.AsyncBaseTransport):
    """A transport the source uses but does not own: closing the source leaves it open.

    The API client often passes its own transport (e.g. one ASGITransport for API and auth
    calls); an ``httpx.AsyncClient`` closes its transport on ``aclose``, which must not
    happen to a transport that belongs to someone else.
    """

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        """Leave the borrowed transport open; its owner closes it."""


AUTH_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Auth-server answers that mean "not now" rather than "no": a token request is retried."""


class AuthServerSource:
    """Tokens from a Keycloak-style auth server with username and password.

    The first call logs in with the password grant. Before the access token expires (refresh
    margin: 60 s, at most a tenth of its lifetime) it uses the refresh-token grant; when the refresh
    token is near expiry, or the server refuses it, it logs in with the password again.
    Connection errors, timeouts, 408, 429 and 5xx answers of the auth server are retried
    ``max_attempts`` times in all with exponential backoff and jitter (``Retry-After``
    honoured), then end in an :class:`~iqm_async.errors.AuthServerUnavailableError` naming the
    auth server (never the password).
    ``aclose`` logs the session out and closes the source's own HTTP client.

    Endpoints: ``{auth_server_url}/realms/{realm}/protocol/openid-connect/{token,logout}``,
    form-encoded, ``client_id=iqm_client``.

    Args:
        auth_server_url: base URL of the auth server (a trailing ``/`` is ignored).
        username, password: the login.
        realm: Keycloak realm (default ``"cortex"``).
        client_id: OAuth client id (default ``"iqm_client"``).
        transport: httpx transport for the auth server calls (default: httpx's own); tests pass
            ``httpx.ASGITransport(app)``. A given transport is borrowed: :meth:`aclose` does
            not close it.
        timeout: per-request timeout for the auth server in seconds (default 60).
        max_attempts: attempts per token request, first one included (default 4).
        retry_initial_wait_s, retry_max_wait_s: backoff before the 2nd attempt and its cap
            (defaults 0.5 s and 8 s; doubled per attempt, jittered by +-25 %).
        logout_timeout_s: how long ``aclose`` waits for the logout (default 5 s).
        refresh_margin_s: see above (default 60 s).
        clock: wall-clock source (default ``time.time``), for tests.
    """

    def __init__(
        self,
        auth_server_url: str,
        username: str,
        password: str,
        *,
        realm: str = "cortex",
        client_id: str = "iqm_client",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        max_attempts: int = 4,
        retry_initial_wait_s: float = 0.5,
        retry_max_wait_s: float = 8.0,
        logout_timeout_s: float = 5.0,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        clock: Clock = time.time,
    ) -> None:
        if not (auth_server_url and username and password):
            raise AuthenticationError(
                "The auth server login needs auth_server_url, username and password."
            )
        parts = urllib.parse.urlsplit(auth_server_url.strip())
        if parts.username or parts.password:
            # Not repeated in the message: the URL holds a secret.
            raise ConfigurationError(
                "The auth server URL must not contain credentials (user:password@); pass "
                "username= and password= (or IQM_AUTH_USERNAME / IQM_AUTH_PASSWORD) instead."
            )
        self.auth_server_url = auth_server_url.rstrip("/")
        self.username = username
        self._password = password
        openid = f"{self.auth_server_url}/realms/{realm}/protocol/openid-connect"
        self._token_url = f"{openid}/token"
        self._logout_url = f"{openid}/logout"
        self._client_id = client_id
        self._transport = transport
        self._timeout = timeout
        self._retry = RetryPolicy(
            max_attempts=max_attempts,
            initial_backoff_s=retry_initial_wait_s,
            max_backoff_s=retry_max_wait_s,
            retry_statuses=AUTH_RETRY_STATUSES,
        )
        self._logout_timeout_s = logout_timeout_s
        self._refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._lock = anyio.Lock()
        self._http: httpx.AsyncClient | None = None
        self._access: CachedToken | None = None
        self._refresh: CachedToken | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"AuthServerSource(auth_server_url={self.auth_server_url!r}, "
            f"username={self.username!r}, password='***')"
        )

    def _usable(self, now: float) -> bool:
        access = self._access
        return access is not None and not access.expiry.needs_refresh(now, self._refresh_margin_s)

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token; ``force_refresh`` fetches a new one even if the old one is."""
        if self._closed:
            raise closed_error(f"auth server session with {self.auth_server_url}")
        if not force_refresh and self._usable(self._clock()) and self._access is not None:
            return self._access.value
        async with self._lock:
            # Another waiter may have fetched a token while this one waited for the lock.
            if not force_refresh and self._usable(self._clock()) and self._access is not None:
                return self._access.value
            if self._closed:
                raise closed_error(f"auth server session with {self.auth_server_url}")
            return await self._fetch()

    async def _fetch(self) -> str:
        refresh = self._refresh
        now = self._clock()
        if refresh is not None and not refresh.expiry.needs_refresh(now, self._refresh_margin_s):
            reply = await self._post_token("refresh_token", {"refresh_token": refresh.value})
            if reply.status_code == 200 and self._store(reply):
                assert self._access is not None
                return self._access.value
            logger.debug(
                "auth server %s refused the refresh token (HTTP %d); logging in again",
                self.auth_server_url,
                reply.status_code,
            )
        elif refresh is not None:
            logger.debug("refresh token near expiry; logging in again with the password")
        reply = await self._post_token(
            "password", {"username": self.username, "password": self._password}
        )
        if reply.status_code != 200:
            raise AuthenticationError(
                f"The auth server {self.auth_server_url} refused the login of user "
                f"{self.username!r} (HTTP {reply.status_code}: {self._server_text(reply)}). "
                "Check the username and password, and that auth_server_url / IQM_AUTH_SERVER "
                "is the auth server of this IQM server."
            )
        if not self._store(reply):
            raise AuthenticationError(
                f"The auth server {self.auth_server_url} answered the login without a usable "
                "access token (the reply is not JSON with 'access_token', or the token is "
                "already expired: check this machine's clock). Check auth_server_url."
            )
        assert self._access is not None
        return self._access.value

    def _store(self, reply: httpx.Response) -> bool:
        """Keep the tokens of a 200 reply; False if it holds no usable access token."""
        body = json_or_none(reply)
        if not isinstance(body, dict):
            return False
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            return False
        now = self._clock()
        access_expiry = read_token_expiry(
            access, obtained_at=now, expires_in_s=body.get("expires_in")
        )
        if access_expiry.is_expired(now):
            return False
        self._access = CachedToken(access, access_expiry)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            refresh_expiry = read_token_expiry(
                refresh, obtained_at=now, expires_in_s=body.get("refresh_expires_in")
            )
            self._refresh = CachedToken(refresh, refresh_expiry)
        else:
            self._refresh = None
        left = access_expiry.seconds_left(now)
        logger.debug(
            "got an access token from %s (expires in %s s)",
            self.auth_server_url,
            "unknown" if left is None else f"{left:.1f}",
        )
        return True

    def _server_text(self, reply: httpx.Response) -> str:
        """The auth server's error text (OAuth ``error_description``/``error``), redacted."""
        text = reply.text
        body = json_or_none(reply)
        if isinstance(body, dict):
            parts = [body.get(key) for key in ("error", "error_description", "detail", "message")]
            found = [str(part) for part in parts if part]
            if found:
                text = ": ".join(found)
        # Redacted before it is cut, so a secret across the cut is not half shown.
        return redact(text.strip()[:4096], self._secrets())[:300] or "empty body"

    def _secrets(self) -> tuple[str, ...]:
        tokens = tuple(t.value for t in (self._access, self._refresh) if t is not None)
        return (self._password, *tokens)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            borrowed = None if self._transport is None else _BorrowedTransport(self._transport)
            self._http = httpx.AsyncClient(transport=borrowed, timeout=self._timeout)
        return self._http

    async def _post_token(self, grant_type: str, fields: dict[str, str]) -> httpx.Response:
        """POST one grant, retrying transient failures; a non-transient reply is returned."""
        form = {"client_id": self._client_id, "grant_type": grant_type, **fields}
        logger.debug("requesting a token from %s (grant %s)", self._token_url, grant_type)
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return await self._post_once(self._token_url, form)

        try:
            return await call_with_retries(attempt, self._retry)
        except AuthServerUnavailableError as exc:
            raise AuthServerUnavailableError(
                f"The auth server {self.auth_server_url} could not be reached after "
                f"{attempts} attempt(s) (last: {exc}). Check auth_server_url / "
                "IQM_AUTH_SERVER and your network, or try again later.",
                url=self.auth_server_url,
            ) from None

    async def _post_once(self, url: str, form: dict[str, str]) -> httpx.Response:
        """One token request; an answer that may change when asked again raises
        :class:`AttemptFailed`, any other answer is returned to be judged."""
        try:
            reply = await self._client().post(url, data=form)
        except httpx.TransportError as exc:
            # The exception text of httpx names the error, never the form body.
            cause = redact(str(exc), self._secrets()) or "no detail"
            logger.debug("auth server %s: %s", self.auth_server_url, type(exc).__name__)
            raise AttemptFailed(
                failure_from_exception(exc),
                AuthServerUnavailableError(f"{type(exc).__name__}: {cause}"),
            ) from None
        if reply.status_code in AUTH_RETRY_STATUSES:
            text = f"HTTP {reply.status_code}: {self._server_text(reply)}"
            logger.debug("auth server %s: %s", self.auth_server_url, text)
            failed = AuthServerUnavailableError(text)
            raise AttemptFailed(failure_from_response(reply), failed, reply)
        return reply

    async def aclose(self) -> None:
        """Log out (best effort, at most ``logout_timeout_s``) and close the HTTP client."""
        if self._closed:
            return
        self._closed = True
        refresh, self._refresh, self._access = self._refresh, None, None
        # Shielded: closing must finish even when the caller is being cancelled.
        with anyio.move_on_after(self._logout_timeout_s, shield=True):
            if refresh is not None and self._http is not None:
                await self._logout(self._http, refresh.value)
        if self._http is not None:
            with anyio.CancelScope(shield=True):
                await self._http.aclose()
            self._http = None

    async def _logout(self, http: httpx.AsyncClient, refresh_token: str) -> None:
        form = {"client_id": self._client_id, "refresh_token": refresh_token}
        try:
            reply = await http.post(self._logout_url, data=form)
        except Exception as exc:  # best effort: closing must go on whatever the logout did
            logger.debug(
                "logout from %s failed (%s); the session expires on its own",
                self.auth_server_url,
                type(exc).__name__,
            )
            return
        logger.debug("logged out of %s (HTTP %d)", self.auth_server_url, reply.status_code)
