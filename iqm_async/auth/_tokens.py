"""Token bookkeeping without I/O: expiry from JWT claims, refresh margins, tokens-file parsing,
(redaction of server text lives in :mod:`iqm_async.transport`).

Everything here is a plain function or an immutable value, so the rules for *when* to fetch a
new token are tested without an event loop. The token sources in ``_auth_sources`` only do the
fetching.

Times are wall-clock seconds since the epoch (``time.time()``), because a JWT ``exp`` claim is
one; callers pass ``now`` in, so tests control the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jwt

from ..errors import AuthenticationError
from ._credentials import unprintable_at

__all__ = [
    "DEFAULT_REFRESH_MARGIN_S",
    "CachedToken",
    "TokenExpiry",
    "parse_tokens_file",
    "read_token_expiry",
]

LIFETIME_FRACTION_FOR_MARGIN = 0.1
"""The refresh margin is at most this fraction of a token's lifetime."""

DEFAULT_REFRESH_MARGIN_S = 60.0
"""Fetch a new access token this many seconds before the old one expires (capped, see below)."""


@dataclass(frozen=True)
class TokenExpiry:
    """When a token stops being valid, as far as the client can tell.

    Attributes:
        expires_at: epoch seconds of expiry (JWT ``exp``, else obtained time + ``expires_in``),
            or ``None`` when unknown (an opaque token such as a Resonance API token).
        lifetime_s: how long the token was meant to live: ``exp - iat`` when the token carries
            ``iat``, else ``expires_at`` minus the time it was obtained; ``None`` when unknown.
    """

    expires_at: float | None
    lifetime_s: float | None

    def refresh_margin_s(self, default_margin_s: float = DEFAULT_REFRESH_MARGIN_S) -> float:
        """Seconds before expiry at which to fetch a new token.

        ``default_margin_s`` (60 s by default), but at most a tenth of the token's lifetime,
        so short-lived tokens work: one that lives 2 s is used for 1.8 s (about ten token
        requests in 20 s) instead of being refreshed on every request. A request that still
        arrives after expiry gets a 401, which ``IQMAuth`` answers with one refresh and replay.
        """
        if self.lifetime_s is None:
            return default_margin_s
        return max(0.0, min(default_margin_s, self.lifetime_s * LIFETIME_FRACTION_FOR_MARGIN))

    def needs_refresh(self, now: float, default_margin_s: float = DEFAULT_REFRESH_MARGIN_S) -> bool:
        """True when ``now`` is within the refresh margin of expiry (never for unknown expiry)."""
        if self.expires_at is None:
            return False
        return now >= self.expires_at - self.refresh_margin_s(default_margin_s)

    def is_expired(self, now: float) -> bool:
        """True when the token has expired at ``now`` (never for unknown expiry)."""
        return self.expires_at is not None and now >= self.expires_at

    def reread_pause_s(self, now: float, longest_pause_s: float) -> float:
        """How long to keep serving a token that is inside its refresh margin before asking
        its source again: ``longest_pause_s``, or a quarter of the time left if shorter."""
        left = self.seconds_left(now)
        if left is None:
            return longest_pause_s
        return max(0.0, min(longest_pause_s, left / 4))

    def seconds_left(self, now: float) -> float | None:
        """Seconds until expiry (may be negative), or ``None`` when unknown."""
        return None if self.expires_at is None else self.expires_at - now


def _claims(token: str) -> dict[str, Any] | None:
    """The JWT claims without checking the signature (the server verifies; we only read exp)."""
    try:
        claims = jwt.decode(
            token,
            options={
                "verify_signature": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def read_token_expiry(
    token: str, *, obtained_at: float, expires_in_s: object = None
) -> TokenExpiry:
    """Read a token's expiry from its JWT ``exp``/``iat`` claims.

    Args:
        token: the access or refresh token (a JWT, or an opaque string).
        obtained_at: epoch seconds when the client received the token.
        expires_in_s: the auth server's ``expires_in`` reply field, used only when the token is
            not a JWT with an ``exp`` claim; ignored unless it is a number.
    """
    claims = _claims(token)
    expires_at = _number(claims.get("exp")) if claims else None
    issued_at = _number(claims.get("iat")) if claims else None
    if expires_at is None:
        seconds = _number(expires_in_s)
        if seconds is None:
            return TokenExpiry(expires_at=None, lifetime_s=None)
        return TokenExpiry(expires_at=obtained_at + seconds, lifetime_s=seconds)
    start = issued_at if issued_at is not None and issued_at <= expires_at else obtained_at
    return TokenExpiry(expires_at=expires_at, lifetime_s=max(0.0, expires_at - start))


@dataclass(frozen=True)
class CachedToken:
    """A token and its expiry. The value never appears in ``repr`` or ``str``."""

    value: str = field(repr=False)
    expiry: TokenExpiry


def parse_tokens_file(text: str, path: str) -> str:
    """Return the ``access_token`` of a tokens file's text (no I/O, no expiry check).

    Raises:
        AuthenticationError: the text is not a JSON object with a non-empty string
            ``access_token``; the message names ``path`` and what to do.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise AuthenticationError(
            f"Tokens file {path} is not valid JSON (empty, truncated or not a tokens file). "
            "Log in again with your IQM command-line tool, or point IQM_TOKENS_FILE / "
            "tokens_file at the file it writes."
        ) from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise AuthenticationError(
            f"Tokens file {path} has no 'access_token'. Log in again with your IQM "
            "command-line tool so that it writes a fresh tokens file."
        )
    token = token.strip()
    if (where := unprintable_at(token)) is not None:
        raise AuthenticationError(
            f"The access_token in tokens file {path} has a space, line break or control "
            f"character at position {where + 1}; log in again so that the file is rewritten."
        )
    return token
