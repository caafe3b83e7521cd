"""A token with whitespace or control characters is refused before any request, and the
error never shows it."""

from __future__ import annotations

import json

import pytest

from iqm_async import AsyncIQMClient
from iqm_async.auth import resolve_credentials
from iqm_async.auth._tokens import parse_tokens_file
from iqm_async.errors import AuthenticationError, ConfigurationError

SECRET = "s3cr3t-T0ken_value.part"


@pytest.mark.parametrize(
    ("token", "position"),
    [
        (SECRET + "\n", len(SECRET) + 1),
        (" " + SECRET, 1),
        (SECRET[:5] + " " + SECRET[5:], 6),
        (SECRET[:3] + "\x00" + SECRET[3:], 4),
        (SECRET + "\u2028", len(SECRET) + 1),
    ],
)
def test_a_token_with_unprintable_characters_is_refused_unseen(token: str, position: int) -> None:
    with pytest.raises(ConfigurationError, match=f"position {position} of") as info:
        resolve_credentials(token=token, env={})
    assert SECRET[:5] not in str(info.value)
    with pytest.raises(ConfigurationError):
        AsyncIQMClient("http://127.0.0.1:9", api="cocos", token=token)
    with pytest.raises(ConfigurationError):
        resolve_credentials(env={"IQM_TOKEN": token})


def test_a_plain_token_is_fine() -> None:
    credentials = resolve_credentials(token=SECRET, env={})
    assert credentials is not None and credentials.token == SECRET


def test_a_tokens_file_token_with_a_control_character_is_refused_unseen() -> None:
    text = json.dumps({"access_token": SECRET[:4] + "\x07" + SECRET[4:]})
    with pytest.raises(AuthenticationError, match="position 5") as info:
        parse_tokens_file(text, "/tmp/tokens.json")
    assert SECRET[:4] not in str(info.value)
    # Surrounding whitespace is trimmed, as before.
    assert parse_tokens_file(json.dumps({"access_token": f" {SECRET}\n"}), "t.json") == SECRET


def test_a_tokens_file_nested_too_deep_is_not_json() -> None:
    with pytest.raises(AuthenticationError, match="not valid JSON"):
        parse_tokens_file("[" * 100_000 + "]" * 100_000, "/tmp/tokens.json")
