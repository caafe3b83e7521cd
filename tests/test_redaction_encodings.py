"""Invariant 6: secrets never leak in any encoding. URL-encoded, base64 and JSON-escaped
forms are redacted like the raw ones (an auth server that echoes the login form, a server
that echoes the Authorization header), and credentials inside URLs are refused unechoed."""

from __future__ import annotations

import base64
import json
import urllib.parse

import httpx
import pytest
import respx
from respx_fixtures import FAST_RETRY, MOCK_API_URL

from iqm_async import AsyncIQMClient
from iqm_async.auth import AuthServerSource
from iqm_async.errors import AuthenticationError, AuthServerUnavailableError, ConfigurationError
from iqm_async.transport import redact

PASSWORD = 'p@ss wörd/+"9x&z'
TOKEN = "opaque-api-token+/=42"
JOB = "0b8e6a53-6a3f-4d0e-8f55-0c4f1e9d2a71"
AUTH = "https://auth.iqm.test"


def forms(secret: str) -> list[str]:
    """Every encoding the tests look for (the whole secret in each)."""
    raw = secret.encode()
    b64 = base64.b64encode(raw).decode()
    return [
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        b64,
        base64.urlsafe_b64encode(raw).decode(),
        b64.rstrip("="),
    ]


def assert_no_secret(text: str, secret: str) -> None:
    for form in forms(secret):
        assert form not in text, f"a form of the secret leaked: {form[:2]}..."
    for prefix in ("", "a", "ab"):  # base64 inside longer base64 (e.g. Basic credentials)
        inner = base64.b64encode(f"{prefix}alice:{secret}".encode()).decode()
        assert inner[len(inner) // 2 : len(inner) // 2 + 8] not in text


@pytest.mark.parametrize("secret", [PASSWORD, TOKEN])
def test_every_form_of_a_secret_is_redacted(secret: str) -> None:
    for form in forms(secret):
        assert redact(f"before {form} after", (secret,)) == "before *** after"


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc"])
def test_a_secret_inside_longer_base64_is_redacted(prefix: str) -> None:
    basic = base64.b64encode(f"{prefix}alice:{PASSWORD}".encode()).decode()
    shown = redact(f"Authorization: Basic {basic}", (PASSWORD,))
    assert "***" in shown
    assert_no_secret(shown, PASSWORD)


def test_ordinary_text_is_left_alone() -> None:
    assert redact("job 17 failed: no qubit QB3", ("pw",)) == "job 17 failed: no qubit QB3"


def echo_form(request: httpx.Request) -> httpx.Response:
    """An auth server that refuses the login and echoes what it was sent."""
    body = request.content.decode()
    return httpx.Response(
        401,
        json={"error": "invalid_grant", "error_description": f"bad login: {body}"},
    )


@pytest.mark.anyio
@pytest.mark.parametrize("status", [401, 503])
async def test_an_auth_server_echoing_the_login_form_leaks_no_password(
    anyio_backend: str, status: int
) -> None:
    with respx.mock() as mock:
        route = mock.post(url__regex=rf"{AUTH}/.*")
        if status == 401:
            route.mock(side_effect=echo_form)
        else:
            route.mock(side_effect=lambda r: httpx.Response(503, text=r.content.decode()))
        source = AuthServerSource(
            AUTH, "alice", PASSWORD, max_attempts=2, retry_initial_wait_s=0.001
        )
        error = AuthenticationError if status == 401 else AuthServerUnavailableError
        with pytest.raises(error) as info:
            await source.get_token()
        await source.aclose()
    sent = route.calls[0].request.content.decode()
    assert urllib.parse.quote_plus(PASSWORD) in sent  # the echo did hold the encoded form
    assert "***" in str(info.value)
    assert_no_secret(str(info.value), PASSWORD)


APIS = [
    ({"api": "cocos"}, f"/jobs/{JOB}/status"),
    ({"api": "iqm-server", "quantum_computer": "garnet"}, f"/api/v1/jobs/{JOB}"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("options", "path"), APIS)
async def test_a_server_echoing_the_token_encoded_leaks_nothing(
    anyio_backend: str, options: dict[str, str], path: str
) -> None:
    echoed = " | ".join(forms(TOKEN))
    with respx.mock(base_url=MOCK_API_URL) as mock:
        mock.get(path).respond(400, json={"detail": f"bad request, you sent: {echoed}"})
        async with AsyncIQMClient(MOCK_API_URL, token=TOKEN, retry=FAST_RETRY, **options) as client:
            with pytest.raises(Exception) as info:
                await client.job(JOB).status()
    assert "HTTP 400" in str(info.value) and "***" in str(info.value)
    assert_no_secret(str(info.value), TOKEN)


@pytest.mark.parametrize(
    "url", ["https://alice:pw-in-url-5@auth.iqm.test", "https://alice@auth.iqm.test"]
)
def test_an_auth_server_url_with_credentials_is_refused_unechoed(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"must not contain credentials") as info:
        AsyncIQMClient(
            MOCK_API_URL, api="cocos", auth_server_url=url, username="alice", password="pw"
        )
    assert "pw-in-url-5" not in str(info.value) and "alice@" not in str(info.value)
