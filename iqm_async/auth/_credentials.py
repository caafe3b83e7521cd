"""Which credentials to use: explicit arguments or ``IQM_*`` environment variables (no I/O).

The rules follow iqm-client 22.x, the client the seed's users know (PROTOCOL.md section 3.1):

- credentials come either all from arguments or all from the environment; a mix is refused
  because it is ambiguous which one the user meant;
- the valid sets are {token}, {tokens_file} and {auth_server_url, username, password};
- nothing at all means no credentials: requests go out without ``Authorization``.

The pytket backend's rule (``tokens_file_overrides=True``): ``IQM_TOKENS_FILE`` in the
environment wins over everything else, *without* the mixed-source failure that pytket-iqm 0.18
on iqm-client 22.16 runs into (it passes the variable on as an argument, so it arrives twice).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigurationError

__all__ = ["ENV_VARIABLES", "CredentialKind", "Credentials", "resolve_credentials"]

CredentialKind = Literal["token", "tokens_file", "auth_server"]

ENV_VARIABLES: dict[str, str] = {
    "token": "IQM_TOKEN",
    "tokens_file": "IQM_TOKENS_FILE",
    "auth_server_url": "IQM_AUTH_SERVER",
    "username": "IQM_AUTH_USERNAME",
    "password": "IQM_AUTH_PASSWORD",
}
"""Argument name -> the environment variable that supplies it."""

_VALID_SETS: dict[frozenset[str], CredentialKind] = {
    frozenset({"token"}): "token",
    frozenset({"tokens_file"}): "tokens_file",
    frozenset({"auth_server_url", "username", "password"}): "auth_server",
}

_VALID_COMBINATIONS_TEXT = (
    "Give exactly one of: a token (token= or IQM_TOKEN); a tokens file (tokens_file= or "
    "IQM_TOKENS_FILE); or an auth server login (auth_server_url=, username= and password=, or "
    "IQM_AUTH_SERVER, IQM_AUTH_USERNAME and IQM_AUTH_PASSWORD)."
)


@dataclass(frozen=True, repr=False)
class Credentials:
    """One resolved set of credentials. ``repr`` and ``str`` never show the token or password.

    Attributes:
        kind: ``"token"`` (a long-lived API token, sent as is), ``"tokens_file"`` (a JSON file
            an external tool keeps fresh) or ``"auth_server"`` (username/password login).
        source: ``"arguments"`` or ``"environment"``: where the values came from.
        token: the API token (kind ``"token"`` only).
        tokens_file: path of the tokens file (kind ``"tokens_file"`` only).
        auth_server_url: base URL of the auth server, without the ``/realms/...`` part.
        username: the login name (kind ``"auth_server"`` only).
        password: the password (kind ``"auth_server"`` only).
    """

    kind: CredentialKind
    source: Literal["arguments", "environment"] = "arguments"
    token: str | None = None
    tokens_file: str | None = None
    auth_server_url: str | None = None
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        needed = {
            "token": ("token",),
            "tokens_file": ("tokens_file",),
            "auth_server": ("auth_server_url", "username", "password"),
        }[self.kind]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ConfigurationError(
                f"Credentials of kind '{self.kind}' need {', '.join(missing)}. "
                + _VALID_COMBINATIONS_TEXT
            )
        if self.token is not None and (where := unprintable_at(self.token)) is not None:
            # Never echoed: the token is a secret, and a header could not carry it anyway.
            raise ConfigurationError(
                f"The API token has a space, line break or control character at position "
                f"{where + 1} of {len(self.token)}; copy it again without them (a token "
                "read from a file often ends with a line break)."
            )

    def __repr__(self) -> str:
        shown = [f"kind={self.kind!r}", f"source={self.source!r}"]
        if self.token is not None:
            shown.append("token='***'")
        if self.tokens_file is not None:
            shown.append(f"tokens_file={self.tokens_file!r}")
        if self.auth_server_url is not None:
            shown.append(f"auth_server_url={self.auth_server_url!r}")
        if self.username is not None:
            shown.append(f"username={self.username!r}")
        if self.password is not None:
            shown.append("password='***'")
        return f"Credentials({', '.join(shown)})"

    __str__ = __repr__


def _given(values: Mapping[str, str | os.PathLike[str] | None]) -> dict[str, str]:
    """The non-empty values, as strings (an empty string counts as not given, as in 22.x)."""
    given: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        text = os.fspath(value)
        if text:
            given[name] = text
    return given


def _credentials(given: dict[str, str], source: Literal["arguments", "environment"]) -> Credentials:
    kind = _VALID_SETS.get(frozenset(given))
    if kind is None:
        if source == "arguments":
            names = ", ".join(f"{name}=" for name in given)
        else:
            names = ", ".join(ENV_VARIABLES[name] for name in given)
        raise ConfigurationError(
            f"Incomplete or ambiguous credentials from the {source}: {names}. "
            + _VALID_COMBINATIONS_TEXT
        )
    return Credentials(kind=kind, source=source, **given)


def resolve_credentials(
    *,
    token: str | None = None,
    tokens_file: str | os.PathLike[str] | None = None,
    auth_server_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    env: Mapping[str, str] | None = None,
    tokens_file_overrides: bool = False,
) -> Credentials | None:
    """Decide which credentials to use, from arguments or the ``IQM_*`` environment variables.

    Args:
        token, tokens_file, auth_server_url, username, password: explicit credentials; ``None``
            or an empty string means not given.
        env: the environment to read (default ``None``: ``os.environ``). Read at call time.
        tokens_file_overrides: the pytket backend's rule (default ``False``): a non-empty
            ``IQM_TOKENS_FILE`` wins over every argument and every other variable.

    Returns:
        The credentials, or ``None`` when none are given anywhere (requests then go out
        without ``Authorization``, as iqm-client does).

    Raises:
        ConfigurationError: credentials given both as arguments and in the environment, or a
            set that is not one of {token}, {tokens_file}, {auth_server_url, username,
            password}. The message lists the names given (never the values) and the valid
            combinations.
    """
    environment = os.environ if env is None else env
    from_env = _given({name: environment.get(var) for name, var in ENV_VARIABLES.items()})
    if tokens_file_overrides and "tokens_file" in from_env:
        return Credentials(
            kind="tokens_file", source="environment", tokens_file=from_env["tokens_file"]
        )
    from_args = _given(
        {
            "token": token,
            "tokens_file": tokens_file,
            "auth_server_url": auth_server_url,
            "username": username,
            "password": password,
        }
    )
    if from_args and from_env:
        raise ConfigurationError(
            "Credentials given both as arguments ("
            + ", ".join(f"{name}=" for name in from_args)
            + ") and in the environment ("
            + ", ".join(ENV_VARIABLES[name] for name in from_env)
            + "). Use one source: pass every credential as an argument and unset the IQM_* "
            "variables, or pass none and set only the variables. " + _VALID_COMBINATIONS_TEXT
        )
    if from_args:
        return _credentials(from_args, "arguments")
    if from_env:
        return _credentials(from_env, "environment")
    return None


def unprintable_at(secret: str) -> int | None:
    """The index of the first whitespace or control character in ``secret``, or ``None``."""
    for index, char in enumerate(secret):
        if char.isspace() or not char.isprintable():
            return index
    return None
