"""respx fixtures any test module can use (``conftest.py`` imports them).

- ``mock_api``: a respx router for :data:`MOCK_API_URL`; a route need not be called, and a
  request no route matches fails the test.
- ``api_client``: an open :class:`AsyncIQMClient` on :data:`MOCK_API_URL` with
  :data:`FAST_RETRY` and :data:`FAST_POLL`, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from iqm_async.client import AsyncIQMClient
from iqm_async.policies import PollPolicy, RetryPolicy

__all__ = ["FAST_POLL", "FAST_RETRY", "MOCK_API_URL", "api_client", "mock_api"]

MOCK_API_URL = "https://iqm.test"
# The default attempts (5), with delays short enough for a test.
FAST_RETRY = RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05, jitter_fraction=0)
FAST_POLL = PollPolicy(initial_interval_s=0.01, max_interval_s=0.05, max_polls_per_s=1000)


@pytest.fixture
def mock_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=MOCK_API_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def api_client() -> AsyncIterator[AsyncIQMClient]:
    async with AsyncIQMClient(
        MOCK_API_URL, api="cocos", retry=FAST_RETRY, poll=FAST_POLL
    ) as opened:
        yield opened
