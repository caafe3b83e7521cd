"""`import iqm_async` stays light: no pytket, no threads, no network."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_pytket_or_start_threads() -> None:
    code = (
        "import sys, threading, iqm_async, iqm_async.models, iqm_async.metadata;"
        "assert 'pytket' not in sys.modules, 'pytket imported';"
        "assert threading.active_count() == 1, threading.enumerate()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
