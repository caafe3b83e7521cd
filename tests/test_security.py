"""Security properties: credentials stay with the named hosts and out of errors, logs and reprs.

- a redirect is never followed, so ``Authorization`` (and a login's password) never reaches
  another host, on any route, on the API or the auth server;
- a server that echoes the token in an error body does not put it into our exception;
- a tokens file that other users can read is reported with a warning;
- the session-wide leak guard of ``conftest.py`` fails a test that leaks (proven in a child
  pytest run), and it finds what it should.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from conftest import SECRETS, exception_texts, find_leaks
from test_auth_helpers import make_jwt

from iqm_async import errors
from iqm_async.auth import TokensFileSource, resolve_credentials
from iqm_async.backend import IQMBackend
from iqm_async.client import AsyncIQMClient
from iqm_async.emulator.architectures import load_architecture
from iqm_async.models import Circuit, Instruction
from iqm_async.policies import RetryPolicy

API = "https://iqm.test"
AUTH = "https://auth.iqm.test"
ELSEWHERE = "https://elsewhere.example"
TOKEN = "security-token-77"
PASSWORD = "bad-input-password-31"
TOKEN_PATH = "/realms/cortex/protocol/openid-connect/token"
FAST_RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.001, jitter_fraction=0)
TESTS = pathlib.Path(__file__).parent

BELL = Circuit(
    name="bell",
    instructions=(
        Instruction(name="prx", qubits=("QB1",), args={"angle_t": 0.25, "phase_t": 0.0}),
        Instruction(name="cz", qubits=("QB1", "QB2")),
        Instruction(name="measure", qubits=("QB1", "QB2"), args={"key": "m"}),
    ),
)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(no_ambient_credentials: None) -> None:
    """Every test here runs without ambient credentials (see conftest)."""


@pytest.fixture
def hosts() -> Iterator[respx.MockRouter]:
    """The API, its auth server and another host; the other host records what reaches it."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="elsewhere.example").respond(200, json={"stolen": True})
        yield router


def _elsewhere(router: respx.MockRouter) -> list[httpx.Request]:
    return [call.request for call in router.calls if call.request.url.host == "elsewhere.example"]


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_of_an_api_read_is_not_followed(
    status: int, hosts: respx.MockRouter
) -> None:
    hosts.get(f"{API}/quantum-architecture").respond(
        status, headers={"Location": f"{ELSEWHERE}/quantum-architecture"}
    )
    async with AsyncIQMClient(API, api="cocos", token=TOKEN, retry=FAST_RETRY) as client:
        with pytest.raises(errors.APIStatusError, match=f"HTTP {status} .*redirect to") as info:
            await client.quantum_architecture()
    assert ELSEWHERE in str(info.value)  # says where it pointed, so the user can decide
    assert _elsewhere(hosts) == []
    sent = [call.request for call in hosts.calls]
    assert sent and all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in sent)


@pytest.mark.anyio
async def test_redirect_of_a_submit_is_not_followed_and_is_no_uncertain_submission(
    hosts: respx.MockRouter,
) -> None:
    route = hosts.post(f"{API}/jobs").respond(307, headers={"Location": f"{ELSEWHERE}/jobs"})
    async with AsyncIQMClient(API, api="cocos", token=TOKEN, retry=FAST_RETRY) as client:
        with pytest.raises(errors.APIStatusError, match="HTTP 307") as info:
            await client.submit(BELL, shots=10)
    assert not isinstance(info.value, errors.SubmissionUncertainError)
    assert route.call_count == 1
    assert _elsewhere(hosts) == []


@pytest.mark.anyio
async def test_redirect_of_the_login_never_sends_the_password_elsewhere(
    hosts: respx.MockRouter,
) -> None:
    login = hosts.post(f"{AUTH}{TOKEN_PATH}").respond(
        307, headers={"Location": f"{ELSEWHERE}{TOKEN_PATH}"}
    )
    async with AsyncIQMClient(
        API,
        api="cocos",
        auth_server_url=AUTH,
        username="alice",
        password=PASSWORD,
        retry=FAST_RETRY,
    ) as client:
        with pytest.raises(errors.AuthenticationError, match=r"refused the login .*HTTP 307"):
            await client.quantum_architecture()
    assert login.call_count == 1
    assert parse_qs(login.calls[0].request.content.decode())["password"] == [PASSWORD]
    assert _elsewhere(hosts) == []
    assert not [c for c in hosts.calls if c.request.url.host == "iqm.test"]  # no token, no call


def test_httpx_would_strip_authorization_on_a_cross_host_redirect() -> None:
    # Defence in depth, should anyone turn redirects on: httpx drops Authorization when a
    # redirect leaves the origin. Checked on httpx's own redirect builder.
    client = httpx.Client(headers={"Authorization": "Bearer x"})
    request = client.build_request("GET", f"{API}/quantum-architecture")
    response = httpx.Response(302, headers={"Location": f"{ELSEWHERE}/x"}, request=request)
    follow = client._build_redirect_request(request, response)
    assert follow.url.host == "elsewhere.example"
    assert "authorization" not in follow.headers
    client.close()


# --- tokens echoed by a server ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, errors.UnauthorizedError),
        (400, errors.BadRequestError),
        (403, errors.ForbiddenError),
        (500, errors.InternalServerError),
    ],
)
async def test_a_token_echoed_in_an_error_body_is_redacted(
    status: int, error: type[errors.APIStatusError], hosts: respx.MockRouter
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["Authorization"]
        return httpx.Response(status, json={"detail": f"rejected header '{header}'"})

    hosts.get(f"{API}/quantum-architecture").mock(side_effect=echo)
    async with AsyncIQMClient(API, api="cocos", token=TOKEN, retry=FAST_RETRY) as client:
        with pytest.raises(error, match="rejected header 'Bearer \\*\\*\\*'") as info:
            await client.quantum_architecture()
    assert TOKEN not in str(info.value)
    assert TOKEN not in info.value.server_message


@pytest.mark.anyio
async def test_a_jwt_echoed_in_an_error_body_is_redacted(
    hosts: respx.MockRouter, tmp_path: pathlib.Path
) -> None:
    token = make_jwt(exp=time.time() + 3600)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"access_token": token}))
    path.chmod(0o600)
    hosts.get(f"{API}/quantum-architecture").respond(
        502, text=f"<html>upstream refused {token}</html>"
    )
    async with AsyncIQMClient(API, api="cocos", tokens_file=str(path), retry=FAST_RETRY) as client:
        with pytest.raises(errors.BadGatewayError, match="upstream refused \\*\\*\\*") as info:
            await client.quantum_architecture()
    assert token not in str(info.value)


# --- reprs ------------------------------------------------------------------------------------


def test_reprs_never_show_credentials() -> None:
    client = AsyncIQMClient(
        API, api="cocos", auth_server_url=AUTH, username="alice", password=PASSWORD
    )
    credentials = resolve_credentials(token=TOKEN, env={})
    # The architecture given offline: construction then needs no server.
    garnet = load_architecture("garnet").dqa
    backend = IQMBackend(
        API, auth_server_url=AUTH, username="alice", password=PASSWORD, architecture=garnet
    )
    try:
        shown = "\n".join(
            [repr(client), str(client), repr(credentials), str(credentials), repr(backend)]
        )
        shown += repr(client._auth)
    finally:
        backend.close()
    assert PASSWORD not in shown
    assert TOKEN not in shown
    assert find_leaks(repr(credentials)) == []


# --- tokens file permissions ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
async def test_tokens_file_readable_by_others_is_warned_about_once(
    mode: int, warned: bool, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="iqm_async.auth")
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"access_token": "opaque-file-token"}))
    path.chmod(mode)
    source = TokensFileSource(path, reread_pause_s=0)
    await source.get_token()
    await source.get_token(force_refresh=True)
    assert source.reads == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    if not warned:
        assert warnings == []
        return
    (record,) = warnings  # once per source, not once per read
    message = record.getMessage()
    assert f"{path} can be read by other users (mode {mode:04o})" in message
    assert f"chmod 600 {path}" in message
    assert "opaque-file-token" not in message


# --- the leak guard itself ----------------------------------------------------------------------


def test_guard_knows_the_suites_secrets_and_finds_jwts() -> None:
    assert {"emulator-password", PASSWORD, TOKEN} <= SECRETS
    jwt = make_jwt(exp=2_000_000_000)
    assert find_leaks(f"user alice password emulator-password token {jwt}") == [
        "emulator-password",
        jwt,
    ]
    assert find_leaks("HTTP 401 from https://iqm.test: Invalid token. Log in again.") == []


def test_guard_reads_the_chain_a_traceback_shows() -> None:
    try:
        try:
            raise KeyError("inner emulator-password")
        except KeyError as inner:
            raise ValueError("outer") from inner
    except ValueError as exc:
        assert find_leaks("\n".join(exception_texts(exc))) == ["emulator-password"] * 2
    try:
        try:
            raise KeyError("hidden emulator-password")
        except KeyError:
            raise ValueError("outer") from None
    except ValueError as exc:  # "from None": the context is not shown, so not searched
        assert find_leaks("\n".join(exception_texts(exc))) == []


CHILD_TESTS = """
import logging
import pytest

def test_clean():
    logging.getLogger("x").debug("nothing to see")

def test_leaks_in_a_debug_log():
    logging.getLogger("some.library").debug("sending %s", "emulator-password")

def test_leaks_in_a_caught_exception():
    with pytest.raises(ValueError):
        raise ValueError("bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")

def test_leaks_in_a_failure():
    raise RuntimeError("login with security-token-77 failed")
"""


def test_guard_fails_each_leaking_test_in_a_child_run(tmp_path: pathlib.Path) -> None:
    # A child pytest with this suite's conftest (hooks and all) on a file of planted leaks.
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import importlib.util, sys
            sys.path.insert(0, {str(TESTS)!r})
            path = {str(TESTS / "conftest.py")!r}
            spec = importlib.util.spec_from_file_location("suite_conftest", path)
            suite = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(suite)
            globals().update({{k: v for k, v in vars(suite).items() if not k.startswith("__")}})
            """
        )
    )
    (tmp_path / "test_planted.py").write_text(textwrap.dedent(CHILD_TESTS))
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = child.stdout
    assert child.returncode == 1, out
    assert "PASSED test_planted.py::test_clean" in out
    for name in ("test_leaks_in_a_debug_log", "test_leaks_in_a_caught_exception"):
        assert f"ERROR test_planted.py::{name}" in out, out
    assert "FAILED test_planted.py::test_leaks_in_a_failure" in out
    assert "log record of some.library: emu...(17 chars)" in out
    assert "exception caught by pytest.raises: eyJ...(" in out
    assert "exception in call: sec...(17 chars)" in out
