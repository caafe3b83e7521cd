"""IQMConfig / set_iqm_config: pytket's config file under the `iqm` key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iqm_async.config import IQMConfig, set_iqm_config
from iqm_async.errors import ConfigurationError


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path / "pytket" / "config.json"


def test_missing_file_means_no_settings(config_home: Path) -> None:
    assert IQMConfig.load() == IQMConfig()


def test_set_and_load_round_trip(config_home: Path) -> None:
    set_iqm_config(auth_server_url="https://auth.example", username="alice", password="pw-1")
    set_iqm_config(token="tok-1")  # only the given value changes
    loaded = IQMConfig.load()
    assert loaded == IQMConfig("https://auth.example", "alice", "pw-1", "tok-1")
    on_disk = json.loads(config_home.read_text())
    assert on_disk["extensions"]["iqm"]["username"] == "alice"


def test_other_extensions_are_kept(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text(json.dumps({"extensions": {"quantinuum": {"username": "bob"}}}))
    set_iqm_config(username="alice")
    on_disk = json.loads(config_home.read_text())
    assert on_disk["extensions"]["quantinuum"] == {"username": "bob"}
    assert on_disk["extensions"]["iqm"]["username"] == "alice"


def test_pytket_iqm_api_token_key_is_read(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text(json.dumps({"extensions": {"iqm": {"api_token": "legacy"}}}))
    assert IQMConfig.load().token == "legacy"


def test_repr_hides_secrets() -> None:
    text = repr(IQMConfig("https://auth", "alice", "s3cret-pw", "s3cret-token"))
    assert "s3cret" not in text
    assert "alice" in text and "***" in text


def test_bad_value_type_is_named(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text(json.dumps({"extensions": {"iqm": {"username": 42}}}))
    with pytest.raises(ConfigurationError, match=r"'iqm.username' must be a string"):
        IQMConfig.load()


def test_corrupt_file_is_named(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text("{not json")
    with pytest.raises(ConfigurationError, match="Cannot read pytket config file"):
        IQMConfig.load()
