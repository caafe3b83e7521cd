"""Shared test configuration.

Async tests use anyio's pytest plugin: mark them ``@pytest.mark.anyio`` and they run on
asyncio and on trio (the ``anyio_backend`` fixture below).
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on both backends."""
    return str(request.param)


# The emulator's fixtures (emulator_app, asgi_client_factory, live_emulator, ...) for every test.
pytest_plugins = ["emulator_fixtures"]
