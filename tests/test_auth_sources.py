"""Token sources: API token, tokens file (real files, worker thread), auth server (respx)."""

from __future__ import annotations

import json
import pathlib
import threading
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
import respx
from blockbuster import blockbuster_ctx
from test_auth_helpers import (
    API_TOKEN,
    AUTH_URL,
    LOGOUT_PATH,
    PASSWORD,
    TOKEN_PATH,
    USERNAME,
    FakeClock,
    FakeIQM,
    SecretGuard,
    make_jwt,
)
from test_auth_helpers import secret_guard as secret_guard  # autouse leak check

from iqm_async.auth import APITokenSource, AuthServerSource, TokensFileSource, TokenSource
from iqm_async.auth import _sources as _auth_sources
from iqm_async.errors import (
    AuthenticationError,
    AuthServerUnavailableError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    InputError,
    IQMError,
    TransportError,
)
from iqm_async.transport import _retry

pytestmark = pytest.mark.anyio


def form_of(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


# --- API token ------------------------------------------------------------------------------------


async def test_api_token_is_sent_as_is_and_close_ends_it(secret_guard: SecretGuard) -> None:
    source = APITokenSource(API_TOKEN)
    assert isinstance(source, TokenSource)
    assert await source.get_token() == API_TOKEN
    assert await source.get_token(force_refresh=True) == API_TOKEN
    await source.aclose()
    with secret_guard.raises(ClientClosedError, match="closed"):
        await source.get_token()


def test_empty_api_token_is_refused(secret_guard: SecretGuard) -> None:
    with secret_guard.raises(AuthenticationError, match="IQM_TOKEN"):
        APITokenSource("")


# --- tokens file ----------------------------------------------------------------------------------


def write_tokens(path: pathlib.Path, access_token: str, **extra: Any) -> None:
    body = {
        "pid": 4242,
        "timestamp": "2024-03-02T14:05:11.123456",
        "refresh_status": "SUCCESS",
        "access_token": access_token,
        "refresh_token": make_jwt(exp=2_000_000_000),
        "auth_server_url": AUTH_URL,
        **extra,
    }
    path.write_text(json.dumps(body), encoding="utf-8")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens_path(tmp_path: pathlib.Path) -> pathlib.Path:
    """Where a test writes its tokens file (nothing there yet)."""
    return tmp_path / "tokens.json"


async def test_tokens_file_is_read_once_while_the_token_is_fresh(
    tokens_path: pathlib.Path, clock: FakeClock
) -> None:
    token = make_jwt(exp=clock.now + 300, iat=clock.now)
    write_tokens(tokens_path, token)
    source = TokensFileSource(tokens_path, clock=clock)
    assert [await source.get_token() for _ in range(50)] == [token] * 50
    assert source.reads == 1


async def test_tokens_file_is_read_in_a_worker_thread(
    tokens_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tokens(tokens_path, "opaque-but-fine")
    threads: list[threading.Thread] = []
    real_read = _auth_sources._read_text

    def spy(p: str) -> str:
        threads.append(threading.current_thread())
        return real_read(p)

    monkeypatch.setattr(_auth_sources, "_read_text", spy)
    assert await TokensFileSource(tokens_path).get_token() == "opaque-but-fine"
    assert threads and threads[0] is not threading.main_thread()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # blockbuster watches asyncio loops
async def test_tokens_file_read_never_blocks_the_event_loop(tokens_path: pathlib.Path) -> None:
    write_tokens(tokens_path, "opaque")
    with blockbuster_ctx():  # raises BlockingError on a blocking call in the loop thread
        assert await TokensFileSource(tokens_path).get_token() == "opaque"
        assert await TokensFileSource(tokens_path).get_token(force_refresh=True) == "opaque"


async def test_tokens_file_rewritten_near_expiry_is_picked_up(
    tokens_path: pathlib.Path, clock: FakeClock
) -> None:
    old = make_jwt(exp=clock.now + 300, iat=clock.now)
    write_tokens(tokens_path, old)
    source = TokensFileSource(tokens_path, clock=clock)
    assert await source.get_token() == old
    new = make_jwt(exp=clock.now + 600, iat=clock.now + 200)
    write_tokens(tokens_path, new)
    clock.advance(200)  # 100 s left: outside the 30 s margin, the cache still serves
    assert await source.get_token() == old
    clock.advance(75)  # 25 s left: inside the margin, the file is read again
    assert await source.get_token() == new
    assert source.reads == 2


async def test_stale_file_is_not_reread_on_every_request(
    tokens_path: pathlib.Path, clock: FakeClock
) -> None:
    # The token manager stopped: the file keeps a token that is near expiry but still valid.
    token = make_jwt(exp=clock.now + 30, iat=clock.now - 270)
    write_tokens(tokens_path, token)
    source = TokensFileSource(tokens_path, clock=clock, reread_pause_s=1.0)
    for _ in range(20):
        assert await source.get_token() == token
    assert source.reads == 1
    clock.advance(1.0)
    assert await source.get_token() == token
    assert source.reads == 2


async def test_force_refresh_rereads_the_file(tokens_path: pathlib.Path) -> None:
    write_tokens(tokens_path, "first")
    source = TokensFileSource(tokens_path)
    assert await source.get_token() == "first"
    write_tokens(tokens_path, "second")
    assert await source.get_token() == "first"  # opaque: no expiry, so cached
    assert await source.get_token(force_refresh=True) == "second"


async def test_half_written_file_gets_one_immediate_retry(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    write_tokens(path, "complete-token")
    full = path.read_text()
    texts = iter([full[: len(full) // 2], full])
    monkeypatch.setattr(_auth_sources, "_read_text", lambda _p: next(texts))
    source = TokensFileSource(path, retry_delay_s=0)
    assert await source.get_token() == "complete-token"
    assert source.reads == 2


async def test_a_file_still_broken_on_retry_is_an_error(
    tmp_path: pathlib.Path, secret_guard: SecretGuard
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "abc', encoding="utf-8")
    source = TokensFileSource(path, retry_delay_s=0)
    with secret_guard.raises(AuthenticationError, match="not valid JSON"):
        await source.get_token()
    assert source.reads == 2


def _missing(tmp: pathlib.Path) -> pathlib.Path:
    return tmp / "nope.json"


def _directory(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "dir").mkdir()
    return tmp / "dir"


def _not_json(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "t.json").write_text("access_token=abc")
    return tmp / "t.json"


def _no_token(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "t.json").write_text('{"refresh_token": "x", "pid": 1}')
    return tmp / "t.json"


def _expired(tmp: pathlib.Path) -> pathlib.Path:
    write_tokens(tmp / "t.json", make_jwt(exp=1_000_000_000, iat=999_999_700))
    return tmp / "t.json"


def _binary(tmp: pathlib.Path) -> pathlib.Path:
    (tmp / "t.json").write_bytes(b"\xff\xfe\x00garbage")
    return tmp / "t.json"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_missing, "does not exist"),
        (_directory, "is a directory"),
        (_not_json, "not valid JSON"),
        (_no_token, "no 'access_token'"),
        (_expired, "expired .* s ago"),
        (_binary, "not UTF-8 text"),
    ],
)
async def test_bad_tokens_files_name_the_path_and_what_to_do(
    tmp_path: pathlib.Path, make: Any, problem: str, secret_guard: SecretGuard
) -> None:
    path = make(tmp_path)
    with secret_guard.raises(AuthenticationError, match=problem):
        await TokensFileSource(path, retry_delay_s=0).get_token()
    message = secret_guard.messages[0]
    assert str(path) in message
    assert "IQM command-line tool" in message


async def test_unreadable_tokens_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, secret_guard: SecretGuard
) -> None:
    # chmod 0 does not stop root (CI containers), so the refusal is simulated.
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_auth_sources, "_open_no_block", refuse)
    path = tmp_path / "t.json"
    write_tokens(path, "x")
    with secret_guard.raises(AuthenticationError, match="permission denied"):
        await TokensFileSource(path, retry_delay_s=0).get_token()


async def test_closed_tokens_file_source_refuses(
    tmp_path: pathlib.Path, secret_guard: SecretGuard
) -> None:
    path = tmp_path / "t.json"
    write_tokens(path, "x")
    source = TokensFileSource(path)
    await source.aclose()
    with secret_guard.raises(ClientClosedError, match="closed"):
        await source.get_token()


# --- auth server (respx: exact requests and replies) ----------------------------------------------


_serial = iter(range(10**9))


def token_reply(clock: FakeClock, access_s: float = 300, refresh_s: float = 1800) -> httpx.Response:
    """A login reply with fresh, distinct tokens issued at the clock's current time."""
    n = next(_serial)
    return httpx.Response(
        200,
        json={
            "access_token": make_jwt(exp=clock.now + access_s, iat=clock.now, n=n),
            "refresh_token": make_jwt(exp=clock.now + refresh_s, iat=clock.now, n=n, typ="R"),
            "expires_in": access_s,
        },
    )


def issuing(clock: FakeClock, access_s: float = 300, refresh_s: float = 1800) -> Any:
    """A respx side effect that issues tokens at the time of the request."""
    return lambda _request: token_reply(clock, access_s, refresh_s)


def server_source(clock: FakeClock, **options: Any) -> AuthServerSource:
    options.setdefault("retry_initial_wait_s", 0.001)
    options.setdefault("retry_max_wait_s", 0.002)
    return AuthServerSource(AUTH_URL + "/", USERNAME, PASSWORD, clock=clock, **options)


@respx.mock(assert_all_called=False)
async def test_password_grant_sends_the_form_and_caches_the_token(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=issuing(clock))
    respx_mock.post(AUTH_URL + LOGOUT_PATH).mock(return_value=httpx.Response(200))
    source = server_source(clock)
    token = await source.get_token()
    assert [await source.get_token() for _ in range(10)] == [token] * 10
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form_of(request) == {
        "client_id": "iqm_client",
        "grant_type": "password",
        "username": USERNAME,
        "password": PASSWORD,
    }
    await source.aclose()


@respx.mock(assert_all_called=False)
async def test_refresh_grant_before_expiry_then_logout_on_close(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=issuing(clock))
    logout = respx_mock.post(AUTH_URL + LOGOUT_PATH).mock(return_value=httpx.Response(204))
    source = server_source(clock)
    old = await source.get_token()
    clock.advance(271)  # 29 s left: inside the 30 s margin (a tenth of the lifetime)
    new = await source.get_token()
    assert new != old
    refresh_token = route.calls[0].response.json()["refresh_token"]
    assert form_of(route.calls[1].request) == {
        "client_id": "iqm_client",
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    await source.aclose()
    await source.aclose()  # idempotent
    assert logout.call_count == 1
    logout_form = form_of(logout.calls[0].request)
    assert logout_form["client_id"] == "iqm_client" and "grant_type" not in logout_form


@respx.mock(assert_all_called=False)
async def test_refused_refresh_token_falls_back_to_the_password(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    refused = httpx.Response(400, json={"error": "invalid_grant", "error_description": "expired"})
    route = respx_mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=[token_reply(clock), refused])
    source = server_source(clock)
    await source.get_token()
    clock.advance(275)  # inside the 30 s margin: refresh
    route.mock(side_effect=[refused, token_reply(clock)])
    await source.get_token()
    grants = [form_of(call.request)["grant_type"] for call in route.calls]
    assert grants == ["password", "refresh_token", "password"]


@respx.mock(assert_all_called=False)
async def test_expired_refresh_token_goes_straight_to_the_password(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(AUTH_URL + TOKEN_PATH).mock(
        side_effect=issuing(clock, access_s=300, refresh_s=300)
    )
    source = server_source(clock)
    await source.get_token()
    clock.advance(400)
    await source.get_token()
    grants = [form_of(call.request)["grant_type"] for call in route.calls]
    assert grants == ["password", "password"]


@respx.mock(assert_all_called=False)
async def test_refused_password_names_server_and_user_not_the_password(
    respx_mock: respx.MockRouter, clock: FakeClock, secret_guard: SecretGuard
) -> None:
    # A server that echoes the password back must not get it into our message.
    body = {"error": "invalid_grant", "error_description": f"Bad credentials {PASSWORD}"}
    respx_mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=httpx.Response(401, json=body))
    with secret_guard.raises(AuthenticationError, match="refused the login of user 'alice'"):
        await server_source(clock).get_token()
    message = secret_guard.messages[0]
    assert AUTH_URL in message and "HTTP 401: invalid_grant: Bad credentials ***" in message


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("Connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(503, text="maintenance"),
        httpx.Response(502),
    ],
    ids=["connect", "timeout", "503", "502"],
)
async def test_unreachable_auth_server_gives_a_clear_error_after_bounded_retries(
    failure: Any, clock: FakeClock, secret_guard: SecretGuard
) -> None:
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH)
        route.mock(side_effect=failure) if isinstance(failure, Exception) else route.mock(
            return_value=failure
        )
        source = server_source(clock, max_attempts=3)
        with secret_guard.raises(AuthServerUnavailableError, match="could not be reached after 3"):
            await source.get_token()
        assert route.call_count == 3
    assert AUTH_URL in secret_guard.messages[0]


# --- auth server outages: a TransportError, retried under the shared RetryPolicy ----------------


def test_auth_server_unavailable_is_a_transport_error_not_bad_input() -> None:
    assert issubclass(AuthServerUnavailableError, ConnectError)
    assert issubclass(AuthServerUnavailableError, TransportError)
    assert issubclass(AuthServerUnavailableError, IQMError)
    for bad_input in (ValueError, InputError, AuthenticationError):
        assert not issubclass(AuthServerUnavailableError, bad_input), bad_input


async def test_an_auth_server_outage_is_not_swallowed_by_except_value_error(
    clock: FakeClock, secret_guard: SecretGuard
) -> None:
    with respx.mock() as mock:
        mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=httpx.ConnectError("refused"))
        source = server_source(clock, max_attempts=2)
        with secret_guard.raises(ConnectError, match="could not be reached after 2"):
            try:
                await source.get_token()
            except ValueError:  # what code that handles bad input catches
                pytest.fail("an auth server outage was caught as bad input (ValueError)")


class RecordedSleeps:
    """Stands in for the retry loop's sleep (and its jitter source): records, never waits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, random_unit: float = 0.5) -> None:
        self.delays: list[float] = []
        monkeypatch.setattr(_retry, "anyio", SimpleNamespace(sleep=self.sleep))
        monkeypatch.setattr(_retry, "random", SimpleNamespace(random=lambda: random_unit))

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_each_transient_auth_server_status_is_retried_max_attempts_times(
    status: int, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, secret_guard: SecretGuard
) -> None:
    sleeps = RecordedSleeps(monkeypatch)
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=httpx.Response(status))
        source = server_source(clock, max_attempts=4)
        with secret_guard.raises(
            AuthServerUnavailableError, match=rf"after 4 attempt\(s\) .*HTTP {status}"
        ):
            await source.get_token()
        assert route.call_count == 4
    assert len(sleeps.delays) == 3  # a wait between attempts, none after the last


@pytest.mark.parametrize("status", [400, 401, 403, 404, 501, 505])
async def test_other_auth_server_statuses_are_answers_not_retried(
    status: int, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, secret_guard: SecretGuard
) -> None:
    sleeps = RecordedSleeps(monkeypatch)
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=httpx.Response(status))
        with secret_guard.raises(AuthenticationError, match=f"refused the login .*HTTP {status}"):
            await server_source(clock, max_attempts=4).get_token()
        assert route.call_count == 1  # 501 and 505 too: only the listed 5xx mean "not now"
    assert sleeps.delays == []


async def test_one_attempt_means_no_retry(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch, secret_guard: SecretGuard
) -> None:
    sleeps = RecordedSleeps(monkeypatch)
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=httpx.Response(503))
        with secret_guard.raises(AuthServerUnavailableError, match=r"after 1 attempt\(s\)"):
            await server_source(clock, max_attempts=1).get_token()
        assert route.call_count == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("random_unit", "factor"), [(0.5, 1.0), (0.0, 0.75), (1.0, 1.25)], ids=["mid", "low", "high"]
)
async def test_auth_server_backoff_doubles_is_capped_and_jittered_by_a_quarter(
    random_unit: float,
    factor: float,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    secret_guard: SecretGuard,
) -> None:
    sleeps = RecordedSleeps(monkeypatch, random_unit)
    with respx.mock() as mock:
        mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=httpx.ConnectError("refused"))
        source = server_source(
            clock, max_attempts=6, retry_initial_wait_s=0.5, retry_max_wait_s=3.0
        )
        with secret_guard.raises(AuthServerUnavailableError, match="after 6 attempt"):
            await source.get_token()
    assert sleeps.delays == pytest.approx([d * factor for d in (0.5, 1.0, 2.0, 3.0, 3.0)])


async def test_auth_server_retry_after_is_used_instead_of_the_backoff(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = RecordedSleeps(monkeypatch)
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH).mock(
            side_effect=[
                httpx.Response(503, headers={"Retry-After": "7"}),
                httpx.Response(429, headers={"Retry-After": "2.5"}),
                token_reply(clock),
            ]
        )
        assert await server_source(clock, retry_max_wait_s=1.0).get_token()
        assert route.call_count == 3
    assert sleeps.delays == [7.0, 2.5]  # the server's word, not the 1 s backoff cap


async def test_auth_server_503_with_retry_after_is_really_waited(clock: FakeClock) -> None:
    with respx.mock() as mock:
        route = mock.post(AUTH_URL + TOKEN_PATH).mock(
            side_effect=[
                httpx.Response(503, text="restarting", headers={"Retry-After": "0.3"}),
                token_reply(clock),
            ]
        )
        source = server_source(clock)  # its own backoff is 1 ms: the wait is Retry-After's
        started = time.monotonic()
        assert await source.get_token()
        elapsed = time.monotonic() - started
        assert route.call_count == 2
    assert 0.29 <= elapsed < 10


@respx.mock(assert_all_called=False)
async def test_transient_auth_server_failures_then_success(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    route = respx_mock.post(AUTH_URL + TOKEN_PATH).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(500), token_reply(clock)]
    )
    assert await server_source(clock).get_token()
    assert route.call_count == 3


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>login page</html>"),
        httpx.Response(200, json={"token_type": "Bearer"}),
        httpx.Response(200, json=["x"]),
        httpx.Response(200, json={"access_token": make_jwt(exp=1_000_000_000)}),
    ],
    ids=["html", "no-token", "not-object", "already-expired"],
)
async def test_login_reply_without_a_usable_token(
    reply: httpx.Response, clock: FakeClock, secret_guard: SecretGuard
) -> None:
    with respx.mock() as mock:
        mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=reply)
        with secret_guard.raises(AuthenticationError, match="without a usable access token"):
            await server_source(clock).get_token()


@respx.mock(assert_all_called=False)
async def test_opaque_access_token_uses_expires_in(
    respx_mock: respx.MockRouter, clock: FakeClock
) -> None:
    replies = [
        httpx.Response(200, json={"access_token": f"opaque-{n}", "expires_in": 100})
        for n in range(2)
    ]
    respx_mock.post(AUTH_URL + TOKEN_PATH).mock(side_effect=replies)
    source = server_source(clock)
    assert await source.get_token() == "opaque-0"
    clock.advance(89)
    assert await source.get_token() == "opaque-0"
    clock.advance(2)  # within a tenth of the 100 s lifetime of expiry
    assert await source.get_token() == "opaque-1"


@respx.mock(assert_all_called=False)
async def test_failed_logout_is_swallowed_and_the_source_closes(
    respx_mock: respx.MockRouter, clock: FakeClock, secret_guard: SecretGuard
) -> None:
    respx_mock.post(AUTH_URL + TOKEN_PATH).mock(return_value=token_reply(clock))
    respx_mock.post(AUTH_URL + LOGOUT_PATH).mock(side_effect=httpx.ConnectError("down"))
    source = server_source(clock)
    await source.get_token()
    await source.aclose()
    with secret_guard.raises(ClientClosedError, match="closed"):
        await source.get_token()


async def test_close_without_login_sends_nothing(clock: FakeClock) -> None:
    with respx.mock() as mock:
        await server_source(clock).aclose()
        assert not mock.calls


async def test_many_waiters_cause_one_token_request(clock: FakeClock) -> None:
    server = FakeIQM(clock=clock, token_delay_s=0.02)
    source = AuthServerSource(
        AUTH_URL, USERNAME, PASSWORD, transport=server.transport(), clock=clock
    )
    tokens: list[str] = []

    async def take() -> None:
        tokens.append(await source.get_token())

    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(take)
    assert len(set(tokens)) == 1 and len(tokens) == 200
    assert server.token_requests == {"password": 1}
    clock.advance(server.token_seconds)  # now expired: 200 more waiters, one refresh
    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(take)
    assert len(set(tokens)) == 2
    assert server.token_requests == {"password": 1, "refresh_token": 1}
    await source.aclose()
    assert server.logouts == 1


def test_invalid_options_are_refused(secret_guard: SecretGuard) -> None:
    with secret_guard.raises(AuthenticationError, match="needs auth_server_url"):
        AuthServerSource("", USERNAME, PASSWORD)
    for bad in (0, -1):
        with pytest.raises(ConfigurationError, match="max_attempts"):
            AuthServerSource(AUTH_URL, USERNAME, PASSWORD, max_attempts=bad)


async def test_a_given_transport_is_borrowed_not_closed(clock: FakeClock) -> None:
    server = FakeIQM(clock=clock)

    class Recording(httpx.MockTransport):
        closed = False

        async def aclose(self) -> None:
            self.closed = True

    transport = Recording(server.handle)
    source = AuthServerSource(AUTH_URL, USERNAME, PASSWORD, transport=transport, clock=clock)
    await source.get_token()
    await source.aclose()
    assert server.logouts == 1
    assert not transport.closed  # the API client that owns it still uses it
