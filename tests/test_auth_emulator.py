"""Auth against the emulator's auth server (in-process via httpx.ASGITransport).

Token requests are counted by the emulator itself (``GET /_emulator/stats``).
"""

from __future__ import annotations

import json
import pathlib
import socket
import time
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from test_auth_helpers import PASSWORD, TOKEN_PATH, USERNAME, FakeClock, SecretGuard
from test_auth_helpers import secret_guard as secret_guard  # autouse leak check

from iqm_async.auth import AuthServerSource, IQMAuth, TokensFileSource
from iqm_async.emulator import Emulator, EmulatorConfig, create_app
from iqm_async.errors import AuthServerUnavailableError

pytestmark = pytest.mark.anyio

BASE_URL = "http://emulator"
PROTECTED = "/quantum-architecture"
TOKEN_STATS = f"POST {TOKEN_PATH}"


def make_emulator(clock: FakeClock | None = None, **options: Any) -> tuple[Emulator, FastAPI]:
    config = EmulatorConfig(
        seed=1, require_auth=True, username=USERNAME, password=PASSWORD, **options
    )
    emulator = Emulator(config, clock=clock)
    if clock is not None:
        # Put the emulator's wall clock 2000 s in the past, so tests can move it forward
        # without issuing tokens "from the future": the emulator's PyJWT decode checks `iat`
        # against the real time.time() (reported to the emulator's owner).
        clock.advance(-2000)
    return emulator, create_app(emulator=emulator)


def login_source(app: FastAPI, clock: Any = time.time, **options: Any) -> AuthServerSource:
    """An auth-server source whose token calls go to the emulator in-process."""
    return AuthServerSource(
        BASE_URL, USERNAME, PASSWORD, transport=httpx.ASGITransport(app=app), clock=clock, **options
    )


def api_client(app: FastAPI, auth: IQMAuth | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=BASE_URL, transport=httpx.ASGITransport(app=app), auth=auth)


async def emulator_stats(app: FastAPI) -> dict[str, Any]:
    async with api_client(app, None) as client:
        stats: dict[str, Any] = (await client.get("/_emulator/stats")).json()
        return stats


async def test_1000_concurrent_requests_facing_an_expired_token_cause_one_token_request() -> None:
    clock = FakeClock(now=1000.0)  # the emulator's monotonic clock; our source reads its wall
    emulator, app = make_emulator(clock, token_seconds=300, latency_ms=2)
    auth = IQMAuth(login_source(app, clock=emulator.wall_time))
    async with api_client(app, auth) as client:
        assert (await client.get(PROTECTED)).status_code == 200
        clock.advance(301)  # the access token has expired, for the emulator and for us
        emulator.reset_stats()
        statuses: list[int] = []

        async def call() -> None:
            statuses.append((await client.get(PROTECTED)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(1000):
                tg.start_soon(call)
    stats = await emulator_stats(app)
    assert statuses == [200] * 1000
    assert stats["token_requests"] == {"password": 0, "refresh_token": 1}
    assert stats["responses_by_status"] == {"200": 1001}  # no 401 on the way
    await auth.aclose()
    assert (await emulator_stats(app))["logouts"] == 1


async def test_expired_refresh_token_falls_back_to_the_password_grant() -> None:
    clock = FakeClock(now=1000.0)
    emulator, app = make_emulator(clock, token_seconds=60)  # refresh token lives 600 s
    auth = IQMAuth(login_source(app, clock=emulator.wall_time))
    async with api_client(app, auth) as client:
        assert (await client.get(PROTECTED)).status_code == 200
        clock.advance(55)  # 5 s left: inside the 6 s margin
        assert (await client.get(PROTECTED)).status_code == 200  # refresh grant
        clock.advance(700)  # both tokens expired
        assert (await client.get(PROTECTED)).status_code == 200  # password grant again
    stats = await emulator_stats(app)
    assert stats["token_requests"] == {"password": 2, "refresh_token": 1}
    await auth.aclose()


async def test_refresh_token_refused_by_the_server_falls_back_to_the_password_grant() -> None:
    # Our clock runs 400 s behind the server's: we still think the refresh token is valid,
    # the server says "Token is not active", and the source logs in with the password.
    clock = FakeClock(now=1000.0)
    emulator, app = make_emulator(clock, token_seconds=30)  # refresh token lives 300 s
    auth = IQMAuth(login_source(app, clock=lambda: emulator.wall_time() - 400))
    async with api_client(app, auth) as client:
        assert (await client.get(PROTECTED)).status_code == 200
        # Past expiry for the server only: the API answers 401, IQMAuth forces a refresh.
        clock.advance(301)
        response = await client.get(PROTECTED)
    assert response.status_code == 200
    stats = await emulator_stats(app)
    assert stats["token_requests"] == {"password": 2, "refresh_token": 1}
    assert stats["responses_by_status"] == {"200": 4, "400": 1, "401": 1}  # incl. token calls
    await auth.aclose()


async def test_auth_server_failing_gives_a_clear_error_after_bounded_retries(
    secret_guard: SecretGuard,
) -> None:
    _, app = make_emulator(fail_rate=1.0)  # every answer is an injected 500/502/503
    source = login_source(app, max_attempts=3, retry_initial_wait_s=0.01)
    async with api_client(app, IQMAuth(source)) as client:
        with secret_guard.raises(AuthServerUnavailableError, match="could not be reached after 3"):
            await client.get(PROTECTED)
    stats = await emulator_stats(app)
    assert stats["requests_by_route"] == {TOKEN_STATS: 3}  # the API was never called
    assert BASE_URL in secret_guard.messages[0]


async def test_auth_server_down_over_loopback(secret_guard: SecretGuard) -> None:
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    source = AuthServerSource(
        url, USERNAME, PASSWORD, max_attempts=4, retry_initial_wait_s=0.05, retry_max_wait_s=0.2
    )
    started = time.monotonic()
    with secret_guard.raises(AuthServerUnavailableError, match=r"reached after 4 attempt\(s\)"):
        await source.get_token()
    elapsed = time.monotonic() - started
    # Three backoff waits (0.05, 0.1, 0.2 s, each jittered by at most -25 %), then it gives up.
    assert 0.75 * (0.05 + 0.1 + 0.2) <= elapsed < 5
    message = secret_guard.messages[0]
    assert url in message and "ConnectError" in message and "IQM_AUTH_SERVER" in message
    await source.aclose()


async def test_server_restart_invalidates_tokens_and_the_client_logs_in_again() -> None:
    # A restarted emulator signs with a new key: old access and refresh tokens are refused.
    class Switchable(httpx.AsyncBaseTransport):
        def __init__(self, app: FastAPI) -> None:
            self.inner = httpx.ASGITransport(app=app)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await self.inner.handle_async_request(request)

    _, first_app = make_emulator()
    transport = Switchable(first_app)
    auth = IQMAuth(AuthServerSource(BASE_URL, USERNAME, PASSWORD, transport=transport))
    async with httpx.AsyncClient(base_url=BASE_URL, transport=transport, auth=auth) as client:
        assert (await client.get(PROTECTED)).status_code == 200
        _, second_app = make_emulator()
        transport.inner = httpx.ASGITransport(app=second_app)
        assert (await client.get(PROTECTED)).status_code == 200
    stats = await emulator_stats(second_app)
    assert stats["token_requests"] == {"password": 1, "refresh_token": 1}  # refused, then login
    assert stats["responses_by_status"] == {"401": 1, "400": 1, "200": 2}
    await auth.aclose()


async def test_tokens_file_rewritten_mid_run_is_picked_up_without_a_failed_request(
    tmp_path: pathlib.Path,
) -> None:
    """An external tool rewrites the file (in place, in two writes) every 0.35 s for 2.5 s.

    Tokens last 2 s (refresh margin 0.2 s), so the first one expires during the run and the
    file must be re-read; the tool may be up to about 1.4 s late (a loaded CI machine)
    before a request could meet an expired token in the file.
    """
    _, app = make_emulator(token_seconds=2)
    path = tmp_path / "tokens.json"
    form = {
        "client_id": "iqm_client",
        "grant_type": "password",
        "username": USERNAME,
        "password": PASSWORD,
    }

    def write_in_place(text: str) -> None:  # not atomic, like cortex-cli: readers may see half
        with open(path, "w", encoding="utf-8") as file:
            file.write(text[: len(text) // 2])
            file.flush()
            time.sleep(0.005)
            file.write(text[len(text) // 2 :])

    async def fresh_file(client: httpx.AsyncClient) -> None:
        tokens = (await client.post(TOKEN_PATH, data=form)).json()
        text = json.dumps({"pid": 1, "refresh_status": "SUCCESS", **tokens})
        await anyio.to_thread.run_sync(write_in_place, text)

    source = TokensFileSource(path)
    statuses: list[int] = []
    async with api_client(app, None) as tool, api_client(app, IQMAuth(source)) as client:
        await fresh_file(tool)
        deadline = time.monotonic() + 2.5

        async def tool_loop() -> None:
            while time.monotonic() < deadline:
                await anyio.sleep(0.35)
                await fresh_file(tool)

        async def requests_loop() -> None:
            while time.monotonic() < deadline:
                statuses.append((await client.get(PROTECTED)).status_code)
                await anyio.sleep(0.005)

        async with anyio.create_task_group() as tg:
            tg.start_soon(tool_loop)
            for _ in range(3):
                tg.start_soon(requests_loop)
    assert len(statuses) > 100
    assert set(statuses) == {200}
    assert source.reads >= 2  # the first 2 s token was replaced by rereading the file
    stats = await emulator_stats(app)
    assert "401" not in stats["responses_by_status"]
