"""A cached side virtualenv for iqm-client 36 (``conftest.py`` loads this plugin).

iqm-client 36 cannot live in the test environment: pytket-iqm pins iqm-client 22. The
``iqm36_python`` fixture gives the path of a Python that has ``iqm-client[qiskit]==36.0.*``;
tests run scripts with it in a subprocess.

The environment is built once and then reused across runs:

- it lives in ``$IQM_ASYNC_SIDE_ENV_DIR`` (default ``~/.cache/iqm-async``) as
  ``iqm-client-36-py<X.Y>``; a marker file in it holds the requirement it was built for and is
  written last, so an environment without a matching marker (a different requirement, or an
  interrupted build) is deleted and built again;
- building it (``python -m venv`` + ``pip install``) needs the package index and takes about a
  minute; the time is logged and shown in the terminal. A file lock keeps two sessions from
  building it at once.
- when it cannot be built (no network), the tests that need it fail with pip's output, unless
  ``IQM_ASYNC_SKIP_SIDE_ENV=1`` is set: then they are skipped. A cached environment is used
  whatever that variable says.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["BUILD_TIMEOUT_S", "IQM36_REQUIREMENT", "iqm36_python", "side_env_python"]

IQM36_REQUIREMENT = "iqm-client[qiskit]==36.0.*"
SKIP_VARIABLE = "IQM_ASYNC_SKIP_SIDE_ENV"
DIR_VARIABLE = "IQM_ASYNC_SIDE_ENV_DIR"
_MARKER = "iqm-async-side-env.txt"
BUILD_TIMEOUT_S = 900.0
"""Limit for each step of a build (venv, pip install), in seconds."""

logger = logging.getLogger(__name__)


class SideEnvError(Exception):
    """The side environment could not be built; the message says why and what to do."""


def side_env_root() -> Path:
    """Where side environments are cached: ``$IQM_ASYNC_SIDE_ENV_DIR`` or ``~/.cache/iqm-async``."""
    configured = os.environ.get(DIR_VARIABLE)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "iqm-async"


def _python_of(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def cached_python(env_dir: Path, requirement: str) -> Path | None:
    """The environment's Python if it was completely built for ``requirement``, else ``None``."""
    marker = env_dir / _MARKER
    python = _python_of(env_dir)
    try:
        built_for = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return python if built_for == requirement and python.exists() else None


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second session waits here for the first's build
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise SideEnvError(f"{what} took more than {BUILD_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise SideEnvError(f"{what} failed (exit {done.returncode}):\n{tail}")


def build_side_env(env_dir: Path, requirement: str) -> Path:
    """Create a virtualenv at ``env_dir`` with ``requirement`` installed; return its Python.

    Whatever was at ``env_dir`` is removed first. The marker is written only after pip
    succeeded. Raises :class:`SideEnvError`.
    """
    shutil.rmtree(env_dir, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(env_dir)], f"python -m venv {env_dir}")
    python = _python_of(env_dir)
    _run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", requirement],
        f"pip install '{requirement}' into {env_dir}",
    )
    (env_dir / _MARKER).write_text(requirement + "\n", encoding="utf-8")
    return python


def side_env_python(name: str, requirement: str) -> tuple[Path, float | None]:
    """The Python of the cached side environment ``name`` for ``requirement``.

    Returns ``(python, build_seconds)``; ``build_seconds`` is ``None`` when the cached
    environment was reused. Raises :class:`SideEnvError` when it had to be built and could not.
    """
    env_dir = side_env_root() / f"{name}-py{sys.version_info.major}.{sys.version_info.minor}"
    if (python := cached_python(env_dir, requirement)) is not None:
        return python, None
    with _exclusive(env_dir.with_name(env_dir.name + ".lock")):
        if (python := cached_python(env_dir, requirement)) is not None:
            return python, None  # another session built it while we waited
        if os.environ.get(SKIP_VARIABLE) == "1":
            raise SideEnvError(f"not built because {SKIP_VARIABLE}=1")
        started = time.monotonic()
        python = build_side_env(env_dir, requirement)
        return python, time.monotonic() - started


@pytest.fixture(scope="session")
def iqm36_python(request: pytest.FixtureRequest) -> Path:
    """Path of a Python with ``iqm-client[qiskit]==36.0.*`` (a cached side virtualenv)."""
    problem: str | None = None
    try:
        python, build_seconds = side_env_python("iqm-client-36", IQM36_REQUIREMENT)
    except SideEnvError as exc:
        problem = str(exc)  # reported below, outside the except block: pip's output once
    if problem is not None:
        if os.environ.get(SKIP_VARIABLE) == "1":
            pytest.skip(f"iqm-client 36 side environment unavailable: {problem}")
        pytest.fail(
            f"Could not build the iqm-client 36 side environment ({IQM36_REQUIREMENT}); it "
            f"needs the package index once, then it is cached in {side_env_root()}. Set "
            f"{SKIP_VARIABLE}=1 to skip these tests offline.\n{problem}",
            pytrace=False,
        )
    if build_seconds is not None:
        message = f"built the iqm-client 36 side environment at {python.parent.parent} in "
        message += f"{build_seconds:.1f} s (cached for later runs)"
        logger.info(message)
        capture = request.config.pluginmanager.getplugin("capturemanager")
        reporter = request.config.pluginmanager.getplugin("terminalreporter")
        if capture is not None and reporter is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(message)
    return python
