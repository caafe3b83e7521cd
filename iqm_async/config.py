"""pytket config-file settings for IQMBackend: ``IQMConfig`` and ``set_iqm_config``.

The values live in pytket's config file (``~/.config/pytket/config.json``, or under
``$XDG_CONFIG_HOME``) under the ``iqm`` key, as pytket-iqm stores them. The file holds
secrets in plain text: keep it readable by you alone. ``repr()`` of an ``IQMConfig`` never
shows the password or the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from pytket.config.pytket_config import PytketConfig, PytketExtConfig, get_config_file_path

from .errors import ConfigurationError

__all__ = ["IQMConfig", "set_iqm_config"]

_FIELDS = ("auth_server_url", "username", "password", "token")


@dataclass
class IQMConfig(PytketExtConfig):
    """Default credentials for :class:`~iqm_async.IQMBackend`, read from pytket's config file.

    Attributes:
        auth_server_url: URL of the auth server for the username/password login.
        username: user name on the auth server.
        password: password on the auth server.
        token: a long-lived API token (used when no username/password is set).
    """

    ext_dict_key: ClassVar[str] = "iqm"

    auth_server_url: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_extension_dict(cls, ext_dict: dict[str, Any]) -> IQMConfig:
        """Build from the ``iqm`` section of pytket's config file (unknown keys ignored)."""
        values: dict[str, str | None] = {}
        for name in _FIELDS:
            value = ext_dict.get(name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"pytket config file {get_config_file_path()}: 'iqm.{name}' must be a "
                    f"string, got {type(value).__name__}. Fix it with set_iqm_config()."
                )
            values[name] = value
        # pytket-iqm 0.16+ called the token "api_token": read that too.
        legacy_token = ext_dict.get("api_token")
        if values["token"] is None and isinstance(legacy_token, str):
            values["token"] = legacy_token
        return cls(**values)

    @classmethod
    def load(cls) -> IQMConfig:
        """Read the current settings; an absent config file means no settings."""
        path = get_config_file_path()
        if not path.exists():
            return cls()
        try:
            pytket_config = PytketConfig.read_file(path)
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"Cannot read pytket config file {path}: {exc}. Fix or delete the file."
            ) from exc
        return cls.from_pytketconfig(pytket_config)

    def __repr__(self) -> str:
        shown = {
            "auth_server_url": self.auth_server_url,
            "username": self.username,
            "password": "***" if self.password else None,
            "token": "***" if self.token else None,
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"IQMConfig({inner})"


def set_iqm_config(
    auth_server_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
) -> None:
    """Store default IQM credentials in pytket's config file (only the values given change)."""
    config = IQMConfig.load()
    for name, value in zip(_FIELDS, (auth_server_url, username, password, token), strict=True):
        if value is not None:
            setattr(config, name, value)
    path = get_config_file_path()
    pytket_config = PytketConfig.read_file(path) if path.exists() else PytketConfig.default()
    config.update_pytket_config(pytket_config)
    pytket_config.write_file(path)
