"""Invariant 5: a tokens file is read only if it is a regular file, with a size cap and never
blocking: a FIFO, a device or a huge file ends at once in AuthenticationError, memory flat."""

from __future__ import annotations

import json
import os
import pathlib
import threading
import tracemalloc
from collections.abc import Iterator

import pytest
import respx
from respx_fixtures import MOCK_API_URL

from iqm_async import AsyncIQMClient
from iqm_async.auth import TokensFileSource
from iqm_async.auth._sources import MAX_TOKENS_FILE_BYTES
from iqm_async.errors import AuthenticationError

pytestmark = pytest.mark.anyio

APIS = [{"api": "cocos"}, {"api": "iqm-server", "quantum_computer": "garnet"}]
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")


@pytest.fixture
def fifo(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A FIFO no one writes to. A guard opens it for writing after 10 s, so that a reader
    that blocks on it (the code before the fix) ends, with the wrong error, instead of
    hanging the test run."""
    path = tmp_path / "tokens.fifo"
    os.mkfifo(path)
    stop = threading.Event()

    def unblock() -> None:
        if stop.wait(10):
            return
        while not stop.wait(0.1):  # every reader that blocks (a read is retried once)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue  # no reader is blocked on it
            os.write(fd, b"{}")
            os.close(fd)

    guard = threading.Thread(target=unblock, daemon=True)
    guard.start()
    yield path
    stop.set()
    guard.join()


@pytest.fixture
def huge(tmp_path: pathlib.Path) -> pathlib.Path:
    """A sparse 64 MiB file that starts like a tokens file (no disk space used)."""
    path = tmp_path / "tokens.json"
    with path.open("wb") as file:
        file.write(b'{"access_token": "')
        file.truncate(64 << 20)
    return path


@pytest.fixture
def dev_zero_link(tmp_path: pathlib.Path) -> pathlib.Path:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    link = tmp_path / "tokens.json"
    link.symlink_to("/dev/zero")
    return link


@posix_only
@pytest.mark.parametrize("options", APIS)
@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        ("fifo", "is not a regular file"),
        ("dev_zero_link", "is not a regular file"),
        ("huge", "is too large for a tokens file .67108864 bytes"),
    ],
)
async def test_a_tokens_file_that_is_not_a_small_regular_file_is_refused(
    anyio_backend: str,
    make: str,
    phrase: str,
    options: dict[str, str],
    request: pytest.FixtureRequest,
) -> None:
    path = request.getfixturevalue(make)
    tracemalloc.start()
    try:
        with respx.mock(assert_all_called=False) as router:  # no routes: no request may go
            async with AsyncIQMClient(MOCK_API_URL, tokens_file=str(path), **options) as client:
                with pytest.raises(AuthenticationError, match=phrase) as info:
                    await client.job("0b8e6a53-6a3f-4d0e-8f55-0c4f1e9d2a71").status()
            assert not router.calls
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value) and "Log in with your IQM command-line tool" in str(
        info.value
    )
    assert peak < 4 * MAX_TOKENS_FILE_BYTES  # nothing close to the 64 MiB was read


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
async def test_the_device_itself_is_refused(anyio_backend: str) -> None:
    with pytest.raises(AuthenticationError, match="is not a regular file"):
        await TokensFileSource("/dev/zero").get_token()


async def test_a_file_just_under_the_cap_is_read(
    anyio_backend: str, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "tokens.json"
    body = json.dumps({"access_token": "small-token", "padding": ""})
    path.write_text(body[:-2] + " " * (MAX_TOKENS_FILE_BYTES - len(body)) + '"}')
    assert path.stat().st_size == MAX_TOKENS_FILE_BYTES
    assert await TokensFileSource(path).get_token() == "small-token"


def test_the_cap_is_far_above_a_real_tokens_file() -> None:
    real = {"access_token": "eyJ" + "a" * 1500, "refresh_token": "eyJ" + "b" * 1500}
    assert len(json.dumps(real)) * 100 < MAX_TOKENS_FILE_BYTES
