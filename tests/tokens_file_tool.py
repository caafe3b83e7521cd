"""A stand-in for IQM's command-line token manager: keeps a tokens file fresh in a thread.

Clients of the IQM Server API have no password login; they read a tokens file that an
external tool rewrites. :class:`TokensFileTool` is that tool for tests: it logs in to the
emulator's auth server, then refreshes the session every ``interval_s`` and replaces the
file atomically. Faulted token requests (5xx, 429, dropped connections) are simply tried
again after ``retry_s``, and a refused refresh token leads to a new password login.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
from types import TracebackType
from typing import Any

import httpx

from iqm_async.emulator.app import TOKEN_PATH
from iqm_async.emulator.tokens import CLIENT_ID

__all__ = ["TokensFileTool"]


class TokensFileTool:
    """Keeps ``path`` holding a valid access token while the ``with`` block runs.

    Args:
        url: the emulator's base URL (its auth server).
        path: the tokens file to write.
        username, password: the emulator's account.
        interval_s: time between refreshes (well below the token lifetime).
        retry_s: pause before trying a failed token request again.
    """

    def __init__(
        self,
        url: str,
        path: pathlib.Path,
        *,
        username: str,
        password: str,
        interval_s: float = 0.5,
        retry_s: float = 0.02,
    ) -> None:
        self.url = url
        self.path = path
        self._login = {
            "client_id": CLIENT_ID,
            "grant_type": "password",
            "username": username,
            "password": password,
        }
        self._interval_s = interval_s
        self._retry_s = retry_s
        self._refresh_token: str | None = None
        self._stop = threading.Event()
        self._written = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tokens-file-tool", daemon=True)
        self.writes = 0
        """How many times the file was written (each with a fresh access token)."""

    def __enter__(self) -> TokensFileTool:
        self._thread.start()
        if not self._written.wait(timeout=10.0):
            self._stop.set()
            raise AssertionError(f"no token from {self.url} in 10 s")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5.0) as http:
            while not self._stop.is_set():
                tokens = self._fetch(http)
                if tokens is None:
                    self._stop.wait(self._retry_s)
                    continue
                self._write(tokens)
                self._stop.wait(self._interval_s)

    def _fetch(self, http: httpx.Client) -> dict[str, Any] | None:
        form = self._login
        if self._refresh_token is not None:
            form = {
                "client_id": CLIENT_ID,
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
            }
        try:
            reply = http.post(TOKEN_PATH, data=form)
        except httpx.TransportError:
            return None
        if reply.status_code in (400, 401):
            self._refresh_token = None  # the session is gone: log in again
        if reply.status_code != 200:
            return None
        tokens: dict[str, Any] = reply.json()
        self._refresh_token = tokens["refresh_token"]
        return tokens

    def _write(self, tokens: dict[str, Any]) -> None:
        text = json.dumps({"pid": os.getpid(), "refresh_status": "SUCCESS", **tokens})
        staging = self.path.with_name(self.path.name + ".new")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(staging, self.path)  # readers see the old file or the new, never half
        self.writes += 1
        self._written.set()
