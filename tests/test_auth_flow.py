"""IQMAuth as an httpx.Auth: bearer header, one refresh and one replay on 401, concurrency."""

from __future__ import annotations

import pathlib

import anyio
import httpx
import pytest
import respx
from test_auth_helpers import (
    API_TOKEN,
    API_URL,
    AUTH_URL,
    PASSWORD,
    USERNAME,
    FakeClock,
    FakeIQM,
    SecretGuard,
    make_jwt,
)
from test_auth_helpers import secret_guard as secret_guard  # autouse leak check

from iqm_async.auth import (
    APITokenSource,
    AuthServerSource,
    IQMAuth,
    TokensFileSource,
    build_auth,
    resolve_credentials,
)
from iqm_async.errors import AuthenticationError, ConfigurationError, UnauthorizedError

pytestmark = pytest.mark.anyio


class CountingSource:
    """A source that hands out numbered tokens and counts forced refreshes."""

    def __init__(self) -> None:
        self.serial = 0
        self.forced = 0
        self.closed = False

    async def get_token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.forced += 1
            self.serial += 1
            await anyio.sleep(0.01)  # let other refused requests pile up meanwhile
        return f"token-{self.serial}"

    async def aclose(self) -> None:
        self.closed = True


def setup(clock: FakeClock, **server_options: float) -> tuple[FakeIQM, IQMAuth, httpx.AsyncClient]:
    server = FakeIQM(clock=clock, **server_options)  # type: ignore[arg-type]
    auth = IQMAuth(
        AuthServerSource(AUTH_URL, USERNAME, PASSWORD, transport=server.transport(), clock=clock)
    )
    client = httpx.AsyncClient(base_url=API_URL, transport=server.transport(), auth=auth)
    return server, auth, client


async def test_bearer_token_is_attached() -> None:
    with respx.mock() as mock:
        route = mock.get(API_URL + "/resource").mock(return_value=httpx.Response(200))
        auth = IQMAuth(APITokenSource(API_TOKEN))
        async with httpx.AsyncClient(auth=auth) as client:
            await client.get(API_URL + "/resource")
        assert route.calls[0].request.headers["authorization"] == f"Bearer {API_TOKEN}"


async def test_401_refreshes_once_and_replays_the_request_with_its_body() -> None:
    clock = FakeClock()
    server, auth, client = setup(clock)
    assert (await client.post("/echo", json={"shots": 10})).status_code == 200
    server.revoke_all()  # the server no longer accepts the token, though it has not expired
    response = await client.post("/echo", json={"shots": 20})
    assert response.status_code == 200
    assert server.token_requests == {"password": 1, "refresh_token": 1}
    assert server.bodies == [b'{"shots":10}', b'{"shots":20}', b'{"shots":20}']
    await client.aclose()
    await auth.aclose()
    assert server.logouts == 1


async def test_second_401_raises_with_the_server_message(secret_guard: SecretGuard) -> None:
    token = make_jwt(exp=2_000_000_000)
    secret_guard.secrets.add(token)
    with respx.mock() as mock:
        body = {"detail": f"Token {token} is not allowed here"}
        route = mock.get(API_URL + "/resource").mock(return_value=httpx.Response(401, json=body))
        source = CountingSource()
        async with httpx.AsyncClient(auth=IQMAuth(source)) as client:
            with secret_guard.raises(UnauthorizedError, match="HTTP 401 from .*/resource"):
                await client.get(API_URL + "/resource", params={"x": "1"})
        assert route.call_count == 2
        assert source.forced == 1
    message = secret_guard.messages[0]
    assert "Token *** is not allowed here" in message
    assert "freshly obtained token too" in message
    assert "x=1" not in message


async def test_401_with_a_token_that_cannot_change_raises_without_replay(
    secret_guard: SecretGuard,
) -> None:
    with respx.mock() as mock:
        route = mock.get(API_URL + "/resource").mock(
            return_value=httpx.Response(401, text="expired token")
        )
        async with httpx.AsyncClient(auth=IQMAuth(APITokenSource(API_TOKEN))) as client:
            with secret_guard.raises(AuthenticationError, match="expired token"):
                await client.get(API_URL + "/resource")
        assert route.call_count == 1
    assert "IQM_TOKEN" in secret_guard.messages[0]


async def test_many_requests_refused_with_one_token_cause_one_refresh() -> None:
    source = CountingSource()  # hands out token-0 until forced to refresh

    def token_0_revoked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401 if request.headers["authorization"].endswith("-0") else 200)

    transport = httpx.MockTransport(token_0_revoked)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, auth=IQMAuth(source)) as client:

        async def call() -> None:
            statuses.append((await client.get(API_URL + "/resource")).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(300):
                tg.start_soon(call)
    assert statuses == [200] * 300
    assert source.forced == 1


async def test_1000_concurrent_requests_facing_an_expired_token_make_one_token_request() -> None:
    clock = FakeClock()
    server, auth, client = setup(clock, token_delay_s=0.02)
    assert (await client.get("/resource")).status_code == 200
    clock.advance(server.token_seconds + 1)  # the cached access token is now expired
    statuses: list[int] = []

    async def call() -> None:
        statuses.append((await client.get("/resource")).status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(call)
    assert statuses == [200] * 1000
    assert server.token_requests == {"password": 1, "refresh_token": 1}
    await client.aclose()
    await auth.aclose()


async def test_tokens_file_rewritten_mid_run_no_request_fails(tmp_path: pathlib.Path) -> None:
    clock = FakeClock()
    server = FakeIQM(clock=clock, token_seconds=120)
    path = tmp_path / "tokens.json"

    def cli_writes_file() -> None:  # what cortex-cli's token manager does
        path.write_text(f'{{"access_token": "{server.issue()["access_token"]}"}}')

    cli_writes_file()
    auth = IQMAuth(TokensFileSource(path, clock=clock))
    async with httpx.AsyncClient(base_url=API_URL, transport=server.transport(), auth=auth) as c:
        statuses = []
        for _step in range(60):  # 10 minutes in 10 s steps; the file is rewritten every 60 s
            if _step % 6 == 0:
                cli_writes_file()
            statuses.append((await c.get("/resource")).status_code)
            clock.advance(10)
    assert statuses == [200] * 60
    assert server.resource_requests == 60  # not one 401 on the way
    await auth.aclose()


def test_sync_clients_get_a_clear_error(secret_guard: SecretGuard) -> None:
    def reply(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    auth = IQMAuth(APITokenSource(API_TOKEN))
    with (
        httpx.Client(transport=httpx.MockTransport(reply), auth=auth) as client,
        secret_guard.raises(ConfigurationError, match="only with httpx.AsyncClient"),
    ):
        client.get(API_URL + "/resource")


async def test_build_auth_picks_the_source_for_each_kind(tmp_path: pathlib.Path) -> None:
    assert build_auth(None) is None
    token_auth = build_auth(resolve_credentials(token=API_TOKEN, env={}))
    assert token_auth is not None and isinstance(token_auth.source, APITokenSource)
    file_auth = build_auth(resolve_credentials(tokens_file=tmp_path / "t.json", env={}))
    assert file_auth is not None and isinstance(file_auth.source, TokensFileSource)
    assert file_auth.source.path == str(tmp_path / "t.json")
    server = FakeIQM()
    login = resolve_credentials(
        auth_server_url=AUTH_URL, username=USERNAME, password=PASSWORD, env={}
    )
    login_auth = build_auth(login, transport=server.transport(), timeout=5.0)
    assert login_auth is not None and isinstance(login_auth.source, AuthServerSource)
    assert await login_auth.source.get_token()  # goes through the given transport
    assert server.token_requests == {"password": 1}
    await login_auth.aclose()
    assert server.logouts == 1
