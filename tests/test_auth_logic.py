"""Auth decisions without I/O: expiry, refresh margins, tokens-file parsing, credentials."""

from __future__ import annotations

import os
import pathlib

import jwt as pyjwt
import pytest
from test_auth_helpers import API_TOKEN, PASSWORD, USERNAME, SecretGuard, make_jwt
from test_auth_helpers import secret_guard as secret_guard  # autouse leak check

from iqm_async.auth import (
    APITokenSource,
    AuthServerSource,
    Credentials,
    IQMAuth,
    TokensFileSource,
    resolve_credentials,
)
from iqm_async.auth._tokens import TokenExpiry, parse_tokens_file, read_token_expiry
from iqm_async.errors import AuthenticationError, ConfigurationError
from iqm_async.transport import redact

NOW = 1_700_000_000.0


# --- expiry and refresh margin ----------------------------------------------------------------


def test_expiry_from_exp_and_iat() -> None:
    expiry = read_token_expiry(make_jwt(exp=NOW + 300, iat=NOW - 10), obtained_at=NOW)
    assert expiry == TokenExpiry(expires_at=NOW + 300, lifetime_s=310)


def test_lifetime_measured_from_obtained_time_without_iat() -> None:
    expiry = read_token_expiry(make_jwt(exp=NOW + 2), obtained_at=NOW)
    assert expiry.lifetime_s == 2
    assert expiry.refresh_margin_s() == pytest.approx(0.2)


def test_opaque_token_has_unknown_expiry_and_is_never_refreshed_by_time() -> None:
    expiry = read_token_expiry(API_TOKEN, obtained_at=NOW)
    assert expiry == TokenExpiry(expires_at=None, lifetime_s=None)
    assert not expiry.needs_refresh(NOW + 10**9)
    assert not expiry.is_expired(NOW + 10**9)
    assert expiry.seconds_left(NOW) is None


def test_opaque_token_uses_expires_in_when_given_but_not_a_bool() -> None:
    assert read_token_expiry("opaque", obtained_at=NOW, expires_in_s=30).expires_at == NOW + 30
    assert read_token_expiry("opaque", obtained_at=NOW, expires_in_s=True).expires_at is None
    assert read_token_expiry("opaque", obtained_at=NOW, expires_in_s="30").expires_at is None


def test_jwt_without_exp_has_unknown_expiry() -> None:
    no_exp = pyjwt.encode({"sub": "x"}, "k" * 40, algorithm="HS256")
    assert read_token_expiry(no_exp, obtained_at=NOW).expires_at is None


@pytest.mark.parametrize(
    ("lifetime_s", "margin_s"),
    [(3600, 60), (600, 60), (300, 30), (100, 10), (2, pytest.approx(0.2)), (0, 0)],
)
def test_margin_is_60_s_but_at_most_a_tenth_of_the_lifetime(
    lifetime_s: float, margin_s: float
) -> None:
    assert TokenExpiry(NOW + lifetime_s, lifetime_s).refresh_margin_s() == margin_s


def test_unknown_lifetime_uses_the_default_margin() -> None:
    assert TokenExpiry(NOW + 30, None).refresh_margin_s(45) == 45


def test_needs_refresh_starts_exactly_at_the_margin() -> None:
    expiry = TokenExpiry(expires_at=NOW + 300, lifetime_s=300)
    assert not expiry.needs_refresh(NOW + 269.9)  # margin: a tenth of 300 s
    assert expiry.needs_refresh(NOW + 270)
    assert not expiry.is_expired(NOW + 299.9)
    assert expiry.is_expired(NOW + 300)


# --- tokens file parsing ------------------------------------------------------------------------


def test_tokens_file_text_gives_the_access_token() -> None:
    token = make_jwt(exp=NOW + 100)
    text = f'{{"pid": 1, "access_token": "{token}", "refresh_token": "r", "auth_server_url": "u"}}'
    assert parse_tokens_file(text, "/tmp/t.json") == token


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not valid JSON"),
        ('{"access_token": "abc', "not valid JSON"),
        ("[1, 2]", "no 'access_token'"),
        ('{"refresh_token": "x"}', "no 'access_token'"),
        ('{"access_token": ""}', "no 'access_token'"),
        ('{"access_token": 5}', "no 'access_token'"),
    ],
)
def test_bad_tokens_file_text_names_the_path_and_what_to_do(
    text: str, problem: str, secret_guard: SecretGuard
) -> None:
    with secret_guard.raises(AuthenticationError, match=problem):
        parse_tokens_file(text, "/home/me/tokens.json")
    assert "/home/me/tokens.json" in secret_guard.messages[0]
    assert "Log in again" in secret_guard.messages[0]


def test_redact_hides_given_secrets_and_any_jwt() -> None:
    token = make_jwt(exp=NOW)
    assert redact(f"bad {PASSWORD} and {token}.", (PASSWORD,)) == "bad *** and ***."
    assert redact("plain text", ("",)) == "plain text"


# --- credential resolution ----------------------------------------------------------------------

ENV_ALL = {
    "IQM_TOKEN": API_TOKEN,
    "IQM_TOKENS_FILE": "/env/tokens.json",
    "IQM_AUTH_SERVER": "https://auth.env",
    "IQM_AUTH_USERNAME": USERNAME,
    "IQM_AUTH_PASSWORD": PASSWORD,
}


def test_nothing_given_means_no_credentials() -> None:
    assert resolve_credentials(env={}) is None
    assert resolve_credentials(token="", env={"IQM_TOKEN": ""}) is None


def test_each_valid_set_from_arguments() -> None:
    assert resolve_credentials(token=API_TOKEN, env={}) == Credentials(
        kind="token", token=API_TOKEN
    )
    by_file = resolve_credentials(tokens_file=pathlib.Path("/x/t.json"), env={})
    assert by_file == Credentials(kind="tokens_file", tokens_file="/x/t.json")
    login = resolve_credentials(
        auth_server_url="https://auth", username=USERNAME, password=PASSWORD, env={}
    )
    assert login is not None and login.kind == "auth_server" and login.source == "arguments"
    assert (login.auth_server_url, login.username, login.password) == (
        "https://auth",
        USERNAME,
        PASSWORD,
    )


def test_each_valid_set_from_the_environment() -> None:
    token = resolve_credentials(env={"IQM_TOKEN": API_TOKEN})
    assert token == Credentials(kind="token", source="environment", token=API_TOKEN)
    env = {k: v for k, v in ENV_ALL.items() if "AUTH" in k}
    login = resolve_credentials(env=env)
    assert login is not None and login.kind == "auth_server" and login.password == PASSWORD


def test_default_environment_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_ALL:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IQM_TOKENS_FILE", "/from/os/environ.json")
    found = resolve_credentials()
    assert found is not None and found.tokens_file == "/from/os/environ.json"


def test_mixed_sources_are_refused_listing_names_not_values(secret_guard: SecretGuard) -> None:
    with secret_guard.raises(ConfigurationError, match="both as arguments"):
        resolve_credentials(token=API_TOKEN, env={"IQM_AUTH_PASSWORD": PASSWORD})
    message = secret_guard.messages[0]
    assert "token=" in message and "IQM_AUTH_PASSWORD" in message
    assert "Give exactly one of" in message


@pytest.mark.parametrize(
    "given",
    [
        {"token": API_TOKEN, "tokens_file": "/t.json"},
        {"auth_server_url": "https://a", "username": USERNAME},
        {"username": USERNAME, "password": PASSWORD},
        {"token": API_TOKEN, "username": USERNAME, "password": PASSWORD},
    ],
)
def test_incomplete_or_ambiguous_arguments_are_refused(
    given: dict[str, str], secret_guard: SecretGuard
) -> None:
    with secret_guard.raises(ConfigurationError, match="Incomplete or ambiguous"):
        resolve_credentials(env={}, **given)
    for name in given:
        assert f"{name}=" in secret_guard.messages[0]


def test_ambiguous_environment_lists_the_variables(secret_guard: SecretGuard) -> None:
    # qiskit-on-iqm #144: IQM_TOKEN plus username/password gave an unhelpful message.
    env = {"IQM_TOKEN": API_TOKEN, "IQM_AUTH_USERNAME": USERNAME, "IQM_AUTH_PASSWORD": PASSWORD}
    with secret_guard.raises(ConfigurationError, match="from the environment"):
        resolve_credentials(env=env)
    assert "IQM_TOKEN, IQM_AUTH_USERNAME, IQM_AUTH_PASSWORD" in secret_guard.messages[0]


def test_pytket_rule_tokens_file_in_env_wins_over_everything() -> None:
    # pytket-iqm 0.18 on iqm-client 22.16 fails here with a mixed-source error.
    found = resolve_credentials(
        auth_server_url="https://a",
        username=USERNAME,
        password=PASSWORD,
        tokens_file="/env/tokens.json",
        env=ENV_ALL,
        tokens_file_overrides=True,
    )
    assert found == Credentials(
        kind="tokens_file", source="environment", tokens_file="/env/tokens.json"
    )


def test_pytket_rule_without_the_variable_follows_the_normal_rules() -> None:
    found = resolve_credentials(token=API_TOKEN, env={}, tokens_file_overrides=True)
    assert found is not None and found.kind == "token"
    with pytest.raises(ConfigurationError):
        resolve_credentials(token=API_TOKEN, env={"IQM_TOKEN": "x"}, tokens_file_overrides=True)


def test_credentials_check_their_kind_has_what_it_needs(secret_guard: SecretGuard) -> None:
    with secret_guard.raises(ConfigurationError, match="need auth_server_url, password"):
        Credentials(kind="auth_server", username=USERNAME)


# --- nothing shows a secret ---------------------------------------------------------------------


def test_reprs_and_strs_never_show_secrets(secret_guard: SecretGuard) -> None:
    jwt_token = make_jwt(exp=NOW)
    objects: list[object] = [
        Credentials(kind="token", token=API_TOKEN),
        Credentials(kind="token", token=jwt_token),
        Credentials(
            kind="auth_server", auth_server_url="https://a", username=USERNAME, password=PASSWORD
        ),
        Credentials(kind="tokens_file", tokens_file="/t.json"),
        APITokenSource(API_TOKEN),
        TokensFileSource("/t.json"),
        AuthServerSource("https://a", USERNAME, PASSWORD),
        IQMAuth(AuthServerSource("https://a", USERNAME, PASSWORD)),
        IQMAuth(APITokenSource(jwt_token)),
    ]
    text = "\n".join(f"{obj!r} {obj!s}" for obj in objects)
    secret_guard.secrets.add(jwt_token)
    assert secret_guard.leaks(text) == []
    assert "username='alice'" in text and "tokens_file='/t.json'" in text
    assert "password='***'" in text and "token='***'" in text


def test_tokens_file_path_expands_home() -> None:
    assert TokensFileSource("~/t.json").path == os.path.expanduser("~/t.json")


def test_reread_pause_shrinks_as_expiry_nears() -> None:
    expiry = TokenExpiry(expires_at=NOW + 30, lifetime_s=300)
    assert expiry.reread_pause_s(NOW, 1.0) == 1.0
    assert expiry.reread_pause_s(NOW + 28, 1.0) == 0.5
    assert expiry.reread_pause_s(NOW + 31, 1.0) == 0.0
    assert TokenExpiry(None, None).reread_pause_s(NOW, 1.0) == 1.0
