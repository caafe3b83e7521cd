"""The cached side-environment helper of ``side_env.py``, without the package index."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import side_env
from side_env import SideEnvError, build_side_env, cached_python, side_env_python

REQUIREMENT = "iqm-async-no-such-package==0.0.0"


def fake_env(root: Path, name: str, marker: str | None) -> Path:
    """A directory that looks like a side environment, with ``marker`` as its marker text."""
    env_dir = root / f"{name}-py{sys.version_info.major}.{sys.version_info.minor}"
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").touch()
    if marker is not None:
        (env_dir / "iqm-async-side-env.txt").write_text(marker + "\n", encoding="utf-8")
    return env_dir


def test_only_an_environment_built_for_the_same_requirement_is_reused(tmp_path: Path) -> None:
    assert cached_python(fake_env(tmp_path, "done", REQUIREMENT), REQUIREMENT) is not None
    assert cached_python(fake_env(tmp_path, "other", "pkg==1"), REQUIREMENT) is None
    assert cached_python(fake_env(tmp_path, "interrupted", None), REQUIREMENT) is None
    assert cached_python(tmp_path / "missing", REQUIREMENT) is None


def test_a_cached_environment_is_used_without_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(side_env.DIR_VARIABLE, str(tmp_path))
    env_dir = fake_env(tmp_path, "cached", REQUIREMENT)
    python, build_seconds = side_env_python("cached", REQUIREMENT)
    assert python == env_dir / "bin" / "python" and build_seconds is None


def test_the_skip_variable_stops_a_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(side_env.DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv(side_env.SKIP_VARIABLE, "1")
    with pytest.raises(SideEnvError, match="IQM_ASYNC_SKIP_SIDE_ENV=1"):
        side_env_python("absent", REQUIREMENT)
    assert not (tmp_path / f"absent-py{sys.version_info.major}.{sys.version_info.minor}").exists()


def test_a_failed_install_says_why_and_leaves_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: only local wheel directories are seen
    env_dir = tmp_path / "env"
    with pytest.raises(SideEnvError, match=f"pip install .{REQUIREMENT}. into .* failed") as caught:
        build_side_env(env_dir, REQUIREMENT)
    assert "No matching distribution" in str(caught.value)
    assert cached_python(env_dir, REQUIREMENT) is None
