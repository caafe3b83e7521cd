"""`import iqm_async` stays light: no pytket, no threads, no network."""

from __future__ import annotations

import subprocess
import sys


def run_in_a_fresh_interpreter(*statements: str) -> None:
    """Run ``statements`` in a new Python, where nothing is imported yet; fail if one fails."""
    subprocess.run([sys.executable, "-c", ";".join(statements)], check=True)


def test_import_does_not_load_pytket_or_start_threads() -> None:
    run_in_a_fresh_interpreter(
        "import sys, threading, iqm_async, iqm_async.models, iqm_async.metadata",
        "import iqm_async.results, iqm_async.api, iqm_async.transport, iqm_async.client",
        "assert 'pytket' not in sys.modules, 'pytket imported'",
        "assert threading.active_count() == 1, threading.enumerate()",
    )


def test_pytket_names_are_imported_on_first_use() -> None:
    run_in_a_fresh_interpreter(
        "import sys, iqm_async",
        "assert 'pytket' not in sys.modules",
        "from iqm_async import IQMBackend, IQMConfig, set_iqm_config",
        "assert IQMBackend.__module__.startswith('iqm_async.backend')",
        "assert 'pytket' in sys.modules",
    )


def test_unknown_attribute_is_an_attribute_error() -> None:
    import iqm_async

    try:
        _ = iqm_async.NoSuchThing  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")
