"""The emulator's auth server: a Keycloak-like token endpoint issuing signed JWTs (no I/O).

Access and refresh tokens are HS256 JWTs signed with a random per-emulator secret, with
``exp``, ``iat``, ``sub``, ``typ`` (``Bearer`` or ``Refresh``), ``sid`` (the session) and
``jti`` claims. The access token lives ``token_seconds``; the refresh token ten times as long.
Logout ends the session: its refresh and access tokens stop working.

Replies follow Keycloak: a token reply carries ``access_token``, ``expires_in``,
``refresh_token``, ``refresh_expires_in`` and ``token_type``; errors are
``{"error": ..., "error_description": ...}`` with 400 or 401.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:  # jwt.types exists only in pyjwt >= 2.10
    from jwt.types import Options

__all__ = ["AuthFailure", "TokenIssuer"]

CLIENT_ID = "iqm_client"
REFRESH_LIFETIME_FACTOR = 10.0
_ALGORITHM = "HS256"
_MAX_CACHED_TOKENS = 50_000
# Times are checked against the emulator's clock (which tests may move), not pyjwt's.
_OWN_CLOCK: Options = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}


class AuthFailure(Exception):
    """A refused token or logout request: HTTP ``status`` and the Keycloak error body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON error body."""
        return {"error": self.error, "error_description": self.description}


class TokenIssuer:
    """Issues and checks tokens for one account.

    Args:
        username, password: the account the password grant accepts.
        token_seconds: access-token lifetime in seconds.
        wall_clock: seconds since the epoch (``time.time`` or a test clock).
    """

    def __init__(
        self,
        *,
        username: str,
        password: str,
        token_seconds: float,
        wall_clock: Callable[[], float],
    ) -> None:
        self._username = username
        self._password = password
        self._token_seconds = token_seconds
        self._wall_clock = wall_clock
        self._secret = secrets.token_bytes(32)
        self._ended_sessions: set[str] = set()
        # Decoding a JWT costs ~20 us; a bearer token is checked on every request, so the
        # claims of tokens seen before are cached (the signature was verified once).
        self._verified: dict[str, tuple[float, str]] = {}

    def __repr__(self) -> str:  # never show the password or the secret
        return f"TokenIssuer(username={self._username!r}, token_seconds={self._token_seconds})"

    def _encode(self, typ: str, session: str, now: float, lifetime: float) -> str:
        claims = {
            "exp": round(now + lifetime, 3),
            "iat": round(now, 3),
            "sub": self._username,
            "typ": typ,
            "sid": session,
            "jti": uuid.uuid4().hex,
            "azp": CLIENT_ID,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def _issue(self, session: str) -> dict[str, Any]:
        now = self._wall_clock()
        refresh_lifetime = self._token_seconds * REFRESH_LIFETIME_FACTOR
        return {
            "access_token": self._encode("Bearer", session, now, self._token_seconds),
            "expires_in": self._token_seconds,
            "refresh_token": self._encode("Refresh", session, now, refresh_lifetime),
            "refresh_expires_in": refresh_lifetime,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": session,
            "scope": "openid profile email",
        }

    def _decode(self, token: str, typ: str) -> dict[str, Any]:
        """Verify signature, type, expiry and session of ``token``; raise AuthFailure."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=[_ALGORITHM], options=_OWN_CLOCK
            )
        except jwt.PyJWTError:
            raise AuthFailure(400, "invalid_grant", "Invalid refresh token") from None
        if claims.get("typ") != typ:
            raise AuthFailure(400, "invalid_grant", "Invalid token type")
        if float(claims["exp"]) <= self._wall_clock():
            raise AuthFailure(400, "invalid_grant", "Token is not active")
        if claims.get("sid") in self._ended_sessions:
            raise AuthFailure(400, "invalid_grant", "Session not active")
        return claims

    def token(self, form: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        """Answer a token request; return ``(grant_type, reply)`` or raise AuthFailure."""
        if form.get("client_id") != CLIENT_ID:
            raise AuthFailure(401, "invalid_client", f"Invalid client; use '{CLIENT_ID}'")
        grant = form.get("grant_type", "")
        if grant == "password":
            if form.get("username") != self._username or form.get("password") != self._password:
                raise AuthFailure(401, "invalid_grant", "Invalid user credentials")
            return grant, self._issue(uuid.uuid4().hex)
        if grant == "refresh_token":
            claims = self._decode(form.get("refresh_token", ""), "Refresh")
            return grant, self._issue(str(claims["sid"]))
        raise AuthFailure(
            400, "unsupported_grant_type", "Use grant_type 'password' or 'refresh_token'"
        )

    def logout(self, form: Mapping[str, str]) -> None:
        """End the session of the refresh token in ``form``; raise AuthFailure if invalid."""
        if form.get("client_id") != CLIENT_ID:
            raise AuthFailure(401, "invalid_client", f"Invalid client; use '{CLIENT_ID}'")
        claims = self._decode(form.get("refresh_token", ""), "Refresh")
        self._ended_sessions.add(str(claims["sid"]))

    def check_bearer(self, authorization: str | None) -> str | None:
        """Why a request with this ``Authorization`` header is refused, or ``None`` if valid."""
        if not authorization:
            return (
                "Not authenticated: send 'Authorization: Bearer <access token>' (get one from "
                "the token endpoint /realms/cortex/protocol/openid-connect/token)"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "Invalid Authorization header: expected 'Bearer <access token>'"
        cached = self._verified.get(token)
        if cached is None:
            try:
                claims = jwt.decode(
                    token, self._secret, algorithms=[_ALGORITHM], options=_OWN_CLOCK
                )
            except jwt.PyJWTError:
                return "Invalid access token: it was not issued by this server"
            if claims.get("typ") != "Bearer":
                return "Invalid access token: this is not an access token"
            if len(self._verified) >= _MAX_CACHED_TOKENS:
                self._verified.clear()
            cached = (float(claims["exp"]), str(claims.get("sid")))
            self._verified[token] = cached
        expires, session = cached
        if expires <= self._wall_clock():
            return "Access token expired: get a new one from the token endpoint"
        if session in self._ended_sessions:
            return "Access token belongs to a session that was logged out: log in again"
        return None
