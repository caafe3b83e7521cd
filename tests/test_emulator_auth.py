"""The emulator's auth server and its bearer-token checks (in-process, fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest

from iqm_async.emulator import Emulator, EmulatorConfig, create_app

pytestmark = pytest.mark.anyio

TOKEN_URL = "/realms/cortex/protocol/openid-connect/token"
LOGOUT_URL = "/realms/cortex/protocol/openid-connect/logout"
USER = "bob"
SECRET = "s3cret-pw"
PROTECTED = [
    ("GET", "/quantum-architecture"),
    ("GET", "/api/v1/calibration/default/gates"),
    ("GET", "/jobs/some-id"),
    ("GET", "/jobs/some-id/status"),
    ("GET", "/jobs/some-id/counts"),
    ("POST", "/jobs/some-id/abort"),
    ("POST", "/jobs"),
]
OPEN = ["/health", "/about", "/info/client-libraries", "/_emulator/stats"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def auth_client(
    clock: FakeClock | None = None, **config: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Emulator]]:
    settings = EmulatorConfig(require_auth=True, username=USER, password=SECRET, **config)
    emulator = Emulator(settings, clock=clock)
    app = create_app(emulator=emulator)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        yield client, emulator


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    reply = await client.post(
        TOKEN_URL,
        data={"client_id": "iqm_client", "grant_type": "password", "username": USER,
              "password": SECRET},
    )  # fmt: skip
    assert reply.status_code == 200, reply.text
    tokens: dict[str, Any] = reply.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_protected_routes_need_a_token(method: str, path: str) -> None:
    async with auth_client() as (client, _):
        missing = await client.request(method, path)
        bad = await client.request(method, path, headers=bearer("not.a.jwt"))
        tokens = await login(client)
        good = await client.request(method, path, headers=bearer(tokens["access_token"]))
    assert missing.status_code == 401 and "Not authenticated" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert bad.status_code == 401 and "Invalid access token" in bad.json()["detail"]
    assert good.status_code != 401


@pytest.mark.parametrize("path", OPEN)
async def test_open_routes_need_no_token(path: str) -> None:
    async with auth_client() as (client, _):
        assert (await client.get(path)).status_code == 200


async def test_tokens_are_signed_jwts_with_the_expected_claims() -> None:
    async with auth_client(token_seconds=120.0) as (client, _):
        tokens = await login(client)
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    refresh = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})
    assert access["sub"] == USER and access["typ"] == "Bearer"
    assert access["exp"] - access["iat"] == pytest.approx(120.0)
    assert refresh["typ"] == "Refresh"
    assert refresh["exp"] - refresh["iat"] == pytest.approx(1200.0)  # ten times longer
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "HS256"
    assert tokens["expires_in"] == 120.0 and tokens["token_type"] == "Bearer"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            tokens["access_token"], "a-guessed-secret-of-thirty-two-bytes", algorithms=["HS256"]
        )


async def test_expired_access_token_is_refused_and_refresh_grant_works() -> None:
    clock = FakeClock()
    async with auth_client(clock, token_seconds=2.0) as (client, emulator):
        tokens = await login(client)
        headers = bearer(tokens["access_token"])
        assert (await client.get("/quantum-architecture", headers=headers)).status_code == 200
        clock.now += 2.5
        expired = await client.get("/quantum-architecture", headers=headers)
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
        refreshed = await client.post(
            TOKEN_URL,
            data={"client_id": "iqm_client", "grant_type": "refresh_token",
                  "refresh_token": tokens["refresh_token"]},
        )  # fmt: skip
        assert refreshed.status_code == 200
        new_headers = bearer(refreshed.json()["access_token"])
        assert (await client.get("/quantum-architecture", headers=new_headers)).status_code == 200
        clock.now += 25.0  # the refresh token (20 s) has expired too
        late = await client.post(
            TOKEN_URL,
            data={"client_id": "iqm_client", "grant_type": "refresh_token",
                  "refresh_token": tokens["refresh_token"]},
        )  # fmt: skip
        assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
        stats = emulator.stats()
    assert stats["token_requests"] == {"password": 1, "refresh_token": 2}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password", "username": USER, "password": "wrong"}, 401, "invalid_grant"),
        ({"grant_type": "password", "username": "eve", "password": SECRET}, 401, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "junk"}, 400, "invalid_grant"),
    ],
)
async def test_token_endpoint_refusals(form: dict[str, str], status: int, error: str) -> None:
    async with auth_client() as (client, _):
        reply = await client.post(TOKEN_URL, data={"client_id": "iqm_client", **form})
    assert reply.status_code == status
    assert reply.json()["error"] == error
    assert SECRET not in reply.text


async def test_wrong_client_id_and_access_token_as_refresh_token() -> None:
    async with auth_client() as (client, _):
        tokens = await login(client)
        wrong_client = await client.post(
            TOKEN_URL,
            data={"client_id": "other", "grant_type": "password", "username": USER,
                  "password": SECRET},
        )  # fmt: skip
        swapped = await client.post(
            TOKEN_URL,
            data={"client_id": "iqm_client", "grant_type": "refresh_token",
                  "refresh_token": tokens["access_token"]},
        )  # fmt: skip
        as_bearer = await client.get(
            "/quantum-architecture", headers=bearer(tokens["refresh_token"])
        )
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"
    assert swapped.status_code == 400
    assert as_bearer.status_code == 401


async def test_logout_ends_the_session() -> None:
    async with auth_client() as (client, emulator):
        tokens = await login(client)
        other = await login(client)
        out = await client.post(
            LOGOUT_URL, data={"client_id": "iqm_client", "refresh_token": tokens["refresh_token"]}
        )
        after = await client.get("/quantum-architecture", headers=bearer(tokens["access_token"]))
        other_session = await client.get(
            "/quantum-architecture", headers=bearer(other["access_token"])
        )
        again = await client.post(
            LOGOUT_URL, data={"client_id": "iqm_client", "refresh_token": tokens["refresh_token"]}
        )
    assert out.status_code == 204
    assert after.status_code == 401 and "logged out" in after.json()["detail"]
    assert other_session.status_code == 200
    assert again.status_code == 400
    assert emulator.stats()["logouts"] == 2
    assert SECRET not in repr(emulator.tokens)
