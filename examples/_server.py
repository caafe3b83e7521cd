"""Where the examples run: the IQM server in IQM_SERVER_URL, else a local emulator."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def server_url(**emulator_options: object) -> Iterator[str]:
    """Yield the server URL: ``IQM_SERVER_URL`` if set (credentials from the ``IQM_*``
    variables), otherwise a local emulator started for this run."""
    url = os.environ.get("IQM_SERVER_URL")
    if url:
        print(f"Using the IQM server at {url}", file=sys.stderr)
        yield url
        return
    from iqm_async.emulator import EmulatorConfig, running_emulator

    config = EmulatorConfig(**emulator_options)  # type: ignore[arg-type]
    with running_emulator(config) as local_url:
        print(f"No IQM_SERVER_URL set: using a local emulator at {local_url}", file=sys.stderr)
        yield local_url
