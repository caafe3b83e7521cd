"""Token sources: where a bearer token comes from, each behind ``get_token``/``aclose``.

- :class:`APITokenSource`: a long-lived API token, sent as is (not necessarily a JWT).
- :class:`TokensFileSource`: a JSON tokens file an external tool rewrites; read off the event
  loop, re-read when the cached token nears expiry.
- ``AuthServerSource`` (in ``_auth_server``): password grant, refresh-token grant before
  expiry, password again when the refresh token is refused or expired; logout on close.

Each source has one lock. A caller that finds the cached token stale waits for the lock and
then looks at the cache again, so however many requests wait, one of them fetches and the rest
reuse its token.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import anyio
import anyio.to_thread

from ..errors import AuthenticationError, ClientClosedError
from ._tokens import (
    DEFAULT_REFRESH_MARGIN_S,
    CachedToken,
    parse_tokens_file,
    read_token_expiry,
)

__all__ = ["APITokenSource", "Clock", "TokenSource", "TokensFileSource", "closed_error", "logger"]

logger = logging.getLogger("iqm_async.auth")

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; ``time.time`` unless a test injects another."""


@runtime_checkable
class TokenSource(Protocol):
    """Anything that hands out bearer tokens for :class:`~iqm_async.auth.IQMAuth`."""

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """A token to send now. ``force_refresh=True``: the server refused the last one."""
        ...

    async def aclose(self) -> None:
        """Release what the source holds (e.g. log out of the auth server). Idempotent."""
        ...


def closed_error(what: str) -> ClientClosedError:
    return ClientClosedError(f"The {what} was closed; create a new client to authenticate again.")


class APITokenSource:
    """A long-lived API token (e.g. from the Resonance dashboard), sent as is.

    It is not necessarily a JWT and its expiry is never checked: the server decides, and a
    refused token ends in an :class:`~iqm_async.errors.UnauthorizedError`.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise AuthenticationError("The API token is empty; pass token= or set IQM_TOKEN.")
        self._token = token
        self._closed = False

    def __repr__(self) -> str:
        return "APITokenSource(token='***')"

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """The token (``force_refresh`` has nothing to refresh, so the same token again)."""
        if self._closed:
            raise closed_error("API token source")
        return self._token

    async def aclose(self) -> None:
        """Forget nothing remote: the token's session is managed elsewhere."""
        self._closed = True


OTHERS_CAN_READ = stat.S_IRGRP | stat.S_IROTH
"""Permission bits that let users other than the owner read a file."""


MAX_TOKENS_FILE_BYTES = 1 << 20
"""Largest tokens file read (1 MiB): a real one holds two tokens, a few kB."""

# Opening a FIFO for reading blocks until a writer comes, unless non-blocking; the file's
# kind is then checked on the open descriptor, so nothing can be swapped in between.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)  # Windows: no newline translation
)


def _open_no_block(path: str) -> int:
    """A read-only descriptor of ``path``, opened without blocking (a FIFO with no writer
    would block a plain open forever)."""
    return os.open(path, _OPEN_FLAGS)


def _read_text(path: str) -> str:
    """Read the tokens file (runs in a worker thread).

    Only a regular file is read, at most :data:`MAX_TOKENS_FILE_BYTES` of it, and never with
    a blocking open or read: a FIFO, a device (``/dev/zero``) or a huge file ends at once in
    an :class:`AuthenticationError`. OS errors become clear messages.
    """
    try:
        fd = _open_no_block(path)
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a directory, not a file"
    except PermissionError:
        problem = "cannot be read (permission denied)"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    else:
        try:
            return _read_regular(fd, path)
        finally:
            os.close(fd)
    raise _unreadable(path, problem)


def _read_with_mode(path: str) -> tuple[str, int]:
    """The tokens file's text and permission bits (0 if they cannot be read); worker thread."""
    text = _read_text(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0
    return text, mode


def _read_regular(fd: int, path: str) -> str:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise _unreadable(path, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _unreadable(path, "is not a regular file (a pipe, socket or device)")
    if info.st_size > MAX_TOKENS_FILE_BYTES:
        raise _unreadable(path, f"is too large for a tokens file ({info.st_size} bytes)")
    chunks: list[bytes] = []
    size = 0
    try:
        # Up to one byte more than allowed, to notice a file that grew after the fstat.
        while size <= MAX_TOKENS_FILE_BYTES:
            chunk = os.read(fd, MAX_TOKENS_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _unreadable(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    data = b"".join(chunks)
    if len(data) > MAX_TOKENS_FILE_BYTES:
        raise _unreadable(path, "is too large for a tokens file (it grows while being read)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable(path, "is not UTF-8 text") from None


def _unreadable(path: str, problem: str) -> AuthenticationError:
    return AuthenticationError(
        f"Tokens file {path} {problem}. Log in with your IQM command-line tool so that it "
        "writes the file, or point tokens_file= / IQM_TOKENS_FILE at the file it writes."
    )


class TokensFileSource:
    """Access tokens from a JSON tokens file that an external tool (cortex-cli) keeps fresh.

    The file is read in a worker thread, first on demand, then again whenever the cached
    access token is within the refresh margin of expiry. While the file still holds a token
    inside the margin (its tool is late or has stopped), reads are spaced by ``reread_pause_s``
    or a quarter of the time the token has left, whichever is shorter: a stale file does not
    turn every request into a file read, and a rewrite is still seen before the token expires.
    A failed read is retried once after ``retry_delay_s``, because the tool rewrites the file
    in place and a reader can catch it half-written. The client never writes the file and
    never logs out its session. A file that other users can read (group or other read
    permission, POSIX only) is logged once as a warning on ``iqm_async.auth``.

    Args:
        path: the tokens file; ``~`` is expanded.
        refresh_margin_s: re-read this long before expiry (default 60 s, at most a tenth of the
            token's lifetime).
        reread_pause_s: longest pause between reads of a file whose token is inside the
            refresh margin (default 1 s).
        retry_delay_s: pause before the one retry of a failed read (default 0.05 s).
        clock: wall-clock source (default ``time.time``), for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        reread_pause_s: float = 1.0,
        retry_delay_s: float = 0.05,
        clock: Clock = time.time,
    ) -> None:
        self.path = os.path.expanduser(os.fspath(path))
        self._refresh_margin_s = refresh_margin_s
        self._reread_pause_s = reread_pause_s
        self._retry_delay_s = retry_delay_s
        self._clock = clock
        self._lock = anyio.Lock()
        self._cached: CachedToken | None = None
        self._next_read_at = 0.0
        self._closed = False
        self._warned_mode = False
        self.reads = 0
        """How many times the file was read (tests and diagnostics)."""

    def __repr__(self) -> str:
        return f"TokensFileSource(path={self.path!r})"

    def _usable(self, now: float) -> bool:
        cached = self._cached
        if cached is None or cached.expiry.is_expired(now):
            return False
        return now < self._next_read_at or not cached.expiry.needs_refresh(
            now, self._refresh_margin_s
        )

    async def get_token(self, *, force_refresh: bool = False) -> str:
        """The access token in the file, re-read near expiry or when ``force_refresh``."""
        if self._closed:
            raise closed_error(f"tokens file source for {self.path}")
        if not force_refresh and self._usable(self._clock()) and self._cached is not None:
            return self._cached.value
        async with self._lock:
            # Another waiter may have read the file while this one waited for the lock.
            if not force_refresh and self._usable(self._clock()) and self._cached is not None:
                return self._cached.value
            try:
                cached = await self._read()
            except AuthenticationError:
                logger.debug("reading tokens file %s failed; retrying once", self.path)
                await anyio.sleep(self._retry_delay_s)
                cached = await self._read()
            self._cached = cached
            now = self._clock()
            self._next_read_at = now + cached.expiry.reread_pause_s(now, self._reread_pause_s)
            return cached.value

    async def _read(self) -> CachedToken:
        self.reads += 1
        text, mode = await anyio.to_thread.run_sync(_read_with_mode, self.path)
        if mode & OTHERS_CAN_READ and os.name == "posix" and not self._warned_mode:
            # Logged, not warnings.warn: the fix is a chmod by the user, not a code change.
            self._warned_mode = True
            logger.warning(
                "Tokens file %s can be read by other users (mode %04o): anyone who can read "
                "it can use your IQM account. Restrict it with: chmod 600 %s",
                self.path,
                mode,
                self.path,
            )
        token = parse_tokens_file(text, self.path)
        now = self._clock()
        expiry = read_token_expiry(token, obtained_at=now)
        left = expiry.seconds_left(now)
        if left is not None and left <= 0:
            raise AuthenticationError(
                f"The access token in tokens file {self.path} expired {-left:.0f} s ago. Log in "
                "again with your IQM command-line tool, and keep its token manager running so "
                "that it refreshes the file."
            )
        if left is None:
            logger.debug("read tokens file %s; the access token has no readable expiry", self.path)
        else:
            logger.debug("read tokens file %s; access token expires in %.1f s", self.path, left)
        return CachedToken(token, expiry)

    async def aclose(self) -> None:
        """Stop using the file. The session belongs to the tool that wrote it: no logout."""
        self._closed = True
        self._cached = None
