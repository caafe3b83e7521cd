"""Shared test configuration.

Async tests use anyio's pytest plugin: mark them ``@pytest.mark.anyio`` and they run on
asyncio and on trio (the ``anyio_backend`` fixture below).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest._code import ExceptionInfo
from test_auth_helpers import API_TOKEN as _AUTH_TESTS_API_TOKEN
from test_auth_helpers import PASSWORD as _AUTH_TESTS_PASSWORD

from iqm_async.emulator import EmulatorConfig


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on both backends."""
    return str(request.param)


# The emulator's fixtures (emulator_app, asgi_client_factory, live_emulator, ...), the respx
# ones (mock_api, api_client) and the cached iqm-client 36 side environment (iqm36_python).
pytest_plugins = ["emulator_fixtures", "respx_fixtures", "side_env"]


# --- session-wide secret-leak guard -----------------------------------------------------------
#
# Every log record of every logger (the root logger is set to DEBUG for the session) and the
# message of every exception a test raises (whether pytest.raises caught it or it failed the
# test) is searched for the secrets below and for anything shaped like a JWT. A leak fails the
# test it happened in, or the session when it happened outside a test. Cost: one precompiled
# regex search per log record and per exception.

SECRETS: frozenset[str] = frozenset(
    {
        EmulatorConfig().password,  # the emulator's default account
        _AUTH_TESTS_PASSWORD,
        _AUTH_TESTS_API_TOKEN,
        # Passwords and tokens other test modules pass to clients, backends or config files.
        "drill-password-4711",
        "wonderland-1",
        "secret-token-1",
        "pw-9",
        "pw-1",
        "cfg-pw",
        "tok-1",
        "from-env",
        "from-arg",
        # tests/test_bad_input.py and tests/test_security.py
        "bad-input-password-31",
        "security-token-77",
    }
)
"""Every token and password the test suite uses. JWTs (any ``eyJ...``) are found by shape."""

_JWT = r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
_LEAK = re.compile("|".join([_JWT, *(re.escape(s) for s in sorted(SECRETS, key=len)[::-1])]))

PLANTS_SECRETS = frozenset(
    {
        # Tests that put a secret into an exception on purpose, to prove a leak check fails.
        "test_auth_helpers.py::test_guard_records_chained_exception_messages",
    }
)


def find_leaks(text: str) -> list[str]:
    """Every known secret or JWT-shaped string in ``text`` (plain function, for tests)."""
    return [match.group(0) for match in _LEAK.finditer(text)]


def _masked(found: list[str]) -> str:
    # The report names what leaked without printing it again.
    return ", ".join(sorted({f"{s[:3]}...({len(s)} chars)" for s in found}))


def exception_texts(exc: BaseException) -> Iterator[str]:
    """``str`` and ``repr`` of ``exc`` and of each exception a traceback would show with it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        for note in getattr(current, "__notes__", ()) or ():
            yield str(note)
        for inner in getattr(current, "exceptions", ()):  # an exception group's members
            if isinstance(inner, BaseException):
                yield from exception_texts(inner)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


class _LeakGuard(logging.Handler):
    """Root-logger handler that notes where secrets appeared (``leaks``: where -> found)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.current_test: str | None = None
        self.leaks: dict[str, list[str]] = {}

    def note(self, text: str, what: str) -> None:
        found = find_leaks(text)
        if found and (self.current_test or "").rsplit("/", 1)[-1] not in PLANTS_SECRETS:
            where = self.current_test or "outside any test"
            self.leaks.setdefault(where, []).extend(f"{what}: {_masked([s])}" for s in found)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose args do not fit its format: check both raw
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "\n".join(exception_texts(record.exc_info[1]))
        self.note(text, f"log record of {record.name}")

    def note_exception(self, exc: BaseException, what: str) -> None:
        self.note("\n".join(exception_texts(exc)), what)


_GUARD = _LeakGuard()


def pytest_sessionstart(session: pytest.Session) -> None:
    root = logging.getLogger()
    root.addHandler(_GUARD)
    root.setLevel(logging.DEBUG)
    # With the root at DEBUG, pytest's own handlers would format every httpx/httpcore record
    # (a few per request); keep them at WARNING, the level they saw before. caplog.set_level
    # still lowers its handler for the tests that ask.
    plugin = session.config.pluginmanager.get_plugin("logging-plugin")
    for name in ("caplog_handler", "report_handler", "log_file_handler"):
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler) and handler.level == logging.NOTSET:
            handler.setLevel(logging.WARNING)
    # Every exception a pytest.raises block catches passes through fill_unfilled.
    original = ExceptionInfo.fill_unfilled

    def fill_unfilled(self: ExceptionInfo[Any], exc_info: Any) -> None:
        _GUARD.note_exception(exc_info[1], "exception caught by pytest.raises")
        original(self, exc_info)

    ExceptionInfo.fill_unfilled = fill_unfilled  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _GUARD.current_test = item.nodeid
    try:
        return (yield)
    finally:
        _GUARD.current_test = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    if call.excinfo is not None:
        _GUARD.note_exception(call.excinfo.value, f"exception in {call.when}")
    if call.when == "teardown":
        leaks = _GUARD.leaks.pop(item.nodeid, None)
        if leaks:
            report.outcome = "failed"
            report.longrepr = "Secrets leaked into logs or exception messages:\n  " + "\n  ".join(
                leaks
            )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = [f"{where}: {leak}" for where, found in _GUARD.leaks.items() for leak in found]
    if leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("Secrets leaked outside the tests that ran:", red=True)
            for leak in leaks:
                reporter.write_line(f"  {leak}", red=True)


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The test sees no ``IQM_*`` credentials and an empty pytket config file unless it sets
    them (modules that build backends use it for every test)."""
    for var in (
        "IQM_TOKEN",
        "IQM_TOKENS_FILE",
        "IQM_AUTH_SERVER",
        "IQM_AUTH_USERNAME",
        "IQM_AUTH_PASSWORD",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
