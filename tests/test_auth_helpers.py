"""Shared pieces of the auth tests: known secrets, JWT maker, a fake IQM server, a leak guard.

The ``secret_guard`` fixture is autouse in every auth test module (they import it): it captures
all log output at DEBUG level and every exception message the test checks through
``secret_guard.raises``, and fails the test if a password, an API token or anything shaped like
a JWT appears in them. The tests at the bottom of this file prove the guard itself can fail.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import jwt
import pytest

PASSWORD = "pa55-W0rd-never-shown"
USERNAME = "alice"
API_TOKEN = "resonance-api-token-0123456789"
AUTH_URL = "https://auth.example.org"
API_URL = "https://iqm.example.org"
TOKEN_PATH = "/realms/cortex/protocol/openid-connect/token"
LOGOUT_PATH = "/realms/cortex/protocol/openid-connect/logout"
_SIGNING_KEY = "test-signing-key-that-is-long-enough-for-hs256"
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def make_jwt(exp: float, iat: float | None = None, **claims: Any) -> str:
    """A signed JWT with the given ``exp`` (and ``iat`` when given)."""
    payload: dict[str, Any] = {"exp": exp, "sub": USERNAME, **claims}
    if iat is not None:
        payload["iat"] = iat
    return jwt.encode(payload, _SIGNING_KEY, algorithm="HS256")


class FakeClock:
    """A wall clock tests move by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeIQM:
    """An in-memory auth server plus one protected route (``GET /resource``, ``POST /echo``).

    Tokens are JWTs whose ``exp`` comes from ``clock``; the resource answers 401 to tokens that
    are unknown, revoked or expired at ``clock()``. ``token_delay_s`` slows the token endpoint
    so that concurrent waiters pile up behind the source's lock.
    """

    clock: Callable[[], float] = time.time
    token_seconds: float = 300.0
    refresh_seconds: float = 3000.0
    token_delay_s: float = 0.0
    refuse_refresh: bool = False
    token_requests: Counter[str] = field(default_factory=Counter)
    resource_requests: int = 0
    logouts: int = 0
    bodies: list[bytes] = field(default_factory=list)
    access: dict[str, float] = field(default_factory=dict)
    refresh: dict[str, float] = field(default_factory=dict)
    _serial: int = 0

    def issue(self) -> dict[str, str]:
        now = self.clock()
        self._serial += 1
        access = make_jwt(now + self.token_seconds, iat=now, n=self._serial, typ="Bearer")
        refresh = make_jwt(now + self.refresh_seconds, iat=now, n=self._serial, typ="Refresh")
        self.access[access] = now + self.token_seconds
        self.refresh[refresh] = now + self.refresh_seconds
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}

    def revoke_all(self) -> None:
        self.access.clear()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == TOKEN_PATH:
            return await self._token(request)
        if path == LOGOUT_PATH:
            self.logouts += 1
            return httpx.Response(204)
        if path in ("/resource", "/echo"):
            self.resource_requests += 1
            self.bodies.append(request.content)
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            exp = self.access.get(token)
            if exp is None or self.clock() >= exp:
                return httpx.Response(401, json={"detail": "Invalid or expired token"})
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404, json={"detail": "no such route"})

    async def _token(self, request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        grant = form.get("grant_type", "")
        self.token_requests[grant] += 1
        if self.token_delay_s:
            await anyio.sleep(self.token_delay_s)
        if form.get("client_id") != "iqm_client":
            return httpx.Response(400, json={"error": "invalid_client"})
        if grant == "password":
            if form.get("username") != USERNAME or form.get("password") != PASSWORD:
                return httpx.Response(
                    401, json={"error": "invalid_grant", "error_description": "Bad credentials"}
                )
            return httpx.Response(200, json=self.issue())
        if grant == "refresh_token":
            exp = self.refresh.get(form.get("refresh_token", ""))
            if self.refuse_refresh or exp is None or self.clock() >= exp:
                return httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": "Token is not active"}
                )
            return httpx.Response(200, json=self.issue())
        return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


class SecretGuard:
    """Collects text that users could see and finds secrets in it."""

    def __init__(self) -> None:
        self.secrets: set[str] = {PASSWORD, API_TOKEN}
        self.messages: list[str] = []

    def record(self, exc: BaseException) -> None:
        """Keep ``str`` and ``repr`` of an exception and of every exception chained to it."""
        seen: BaseException | None = exc
        while seen is not None:
            self.messages.extend((str(seen), repr(seen)))
            seen = seen.__cause__ or seen.__context__

    @contextmanager
    def raises(self, exc_type: type[BaseException], match: str | None = None) -> Iterator[None]:
        """``pytest.raises`` that also records the exception message for the leak check."""
        with pytest.raises(exc_type, match=match) as info:
            yield
        self.record(info.value)

    def leaks(self, text: str) -> list[str]:
        """Every secret or JWT-shaped string found in ``text``."""
        found = [secret for secret in self.secrets if secret and secret in text]
        return found + _JWT_SHAPE.findall(text)


def log_text(records: list[logging.LogRecord]) -> str:
    """Every record fully formatted (message with args, exception text)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


@pytest.fixture(autouse=True)
def secret_guard(caplog: pytest.LogCaptureFixture) -> Iterator[SecretGuard]:
    """Capture DEBUG logs and checked exception messages; fail on any secret in them."""
    caplog.set_level(logging.DEBUG)
    guard = SecretGuard()
    yield guard
    text = log_text(caplog.records) + "\n" + "\n".join(guard.messages)
    leaks = guard.leaks(text)
    assert not leaks, f"secrets leaked into logs or exception messages: {len(leaks)} found"


# --- the guard itself must be able to fail ----------------------------------------------------


def test_guard_finds_password_api_token_and_jwts() -> None:
    guard = SecretGuard()
    assert guard.leaks(f"login with {PASSWORD}") == [PASSWORD]
    assert guard.leaks(f"Bearer {API_TOKEN}") == [API_TOKEN]
    token = make_jwt(exp=2_000_000_000)
    assert guard.leaks(f"got {token} back") == [token]
    assert guard.leaks("HTTP 401 from https://iqm.example.org: Invalid token") == []


def test_guard_records_chained_exception_messages() -> None:
    guard = SecretGuard()
    with guard.raises(RuntimeError, match="outer"):
        try:
            raise ValueError(f"inner {PASSWORD}")
        except ValueError as exc:
            raise RuntimeError("outer") from exc
    assert guard.leaks("\n".join(guard.messages)) == [PASSWORD]


def test_guard_sees_formatted_log_arguments() -> None:
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "token %s", (API_TOKEN,), None)
    assert SecretGuard().leaks(log_text([record])) == [API_TOKEN]
