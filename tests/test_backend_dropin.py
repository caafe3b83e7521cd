"""IQMBackend as a drop-in for pytket-iqm: the two constructor forms, construction I/O (or
none, with the architecture given offline), pytket's status words and error types."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from emulator_fixtures import LiveEmulator
from pytket.backends import StatusEnum
from pytket.backends.backend_exceptions import CircuitNotValidError
from pytket.circuit import Circuit

from iqm_async.backend import (
    DEFAULT_SERVER_URL,
    IQMBackend,
    circuit_status_of,
    offline_architecture,
    resolve_target,
)
from iqm_async.emulator import EmulatorConfig
from iqm_async.errors import AuthenticationError, CircuitValidationError, ConfigurationError
from iqm_async.results import JobPhase, JobStatus

Start = Callable[[EmulatorConfig], LiveEmulator]


@pytest.fixture(autouse=True)
def _no_ambient_settings(no_ambient_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient credentials (see conftest), and no server or quantum computer either."""
    for var in ("IQM_SERVER_URL", "IQM_QUANTUM_COMPUTER"):
        monkeypatch.delenv(var, raising=False)


# --- which form, and what it names (no I/O) ------------------------------------------------


def test_device_form_positional_is_pytket_iqms() -> None:
    target = resolve_target("garnet", "tok-1", "https://iqm.example.com", env={})
    assert (target.url, target.quantum_computer, target.token) == (
        "https://iqm.example.com",
        "garnet",
        "tok-1",
    )
    assert target.arch is None and target.username is None


def test_device_form_server_url_defaults_to_env_then_resonance() -> None:
    assert resolve_target(None, device="garnet", env={}).url == DEFAULT_SERVER_URL
    assert DEFAULT_SERVER_URL == "https://resonance.iqm.tech"
    env = {"IQM_SERVER_URL": "http://127.0.0.1:9"}
    assert resolve_target("garnet", env=env).url == "http://127.0.0.1:9"
    assert resolve_target("garnet", server_url="https://x", env=env).url == "https://x"


def test_seed_form_keeps_its_arguments() -> None:
    target = resolve_target("https://cocos.example.com", [("QB1", "QB2")], "https://auth", "u")
    assert target.url == "https://cocos.example.com" and target.quantum_computer is None
    assert target.arch == [["QB1", "QB2"]] and target.auth_server_url == "https://auth"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((None,), {}, "needs a server URL .* or a device alias"),
        (("https://x",), {"device": "garnet"}, "not both"),
        (("garnet", [("QB1", "QB2")]), {}, "second argument is the API token"),
        (("garnet", None, None, "user"), {}, "logs in with an API token"),
        (("https://x",), {"server_url": "https://y"}, "server_url belongs to the device form"),
        (("garnet", "a"), {"api_token": "b"}, "api_token was given twice"),
        (("garnet",), {"api_token": "a", "token": "b"}, "two names for the same API token"),
        (("iqm.example.com/garnet",), {}, "neither a URL .* nor a device alias"),
    ],
)
def test_arguments_that_fit_neither_form_are_refused(
    args: tuple[object, ...], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_target(*args, env={}, **kwargs)  # type: ignore[arg-type]


# --- pytket's status words (no I/O) ----------------------------------------------------------


def test_unfinished_jobs_are_submitted_with_the_fine_state_and_queue_position() -> None:
    at = datetime(2025, 1, 2, tzinfo=timezone.utc)
    queued = JobStatus(JobPhase.QUEUED, "pending compilation", queue_position=3)
    status = circuit_status_of(queued, {"submitted": at, "queued": at})
    assert status.status is StatusEnum.SUBMITTED
    assert status.message == "queued (pending compilation)"
    assert status.queue_position == 3
    assert status.submitted_time == at and status.queued_time == at
    running = circuit_status_of(JobStatus(JobPhase.RUNNING, "processing", "step 2"))
    assert (running.status, running.message) == (
        StatusEnum.SUBMITTED,
        "running (processing): step 2",
    )


def test_finished_jobs_keep_their_pytket_status_and_time() -> None:
    at = datetime(2025, 1, 2, tzinfo=timezone.utc)
    failed = circuit_status_of(JobStatus(JobPhase.FAILED, "failed", "QB3 broke"), {"failed": at})
    assert (failed.status, failed.message, failed.error_time) == (StatusEnum.ERROR, "QB3 broke", at)
    done = circuit_status_of(JobStatus(JobPhase.COMPLETED, "ready"), {"completed": at})
    assert done.status is StatusEnum.COMPLETED and done.completed_time == at


# --- construction: I/O unless the architecture is given offline --------------------------------


def test_device_form_against_the_iqm_server_api(live_emulator_factory: Start) -> None:
    live = live_emulator_factory(
        EmulatorConfig(seed=5, parallel=True, job_seconds=0.0, quantum_computers=("garnet", "star"))
    )
    live.emulator.reset_stats()
    with IQMBackend("star", None, live.url, progress=False) as backend:
        after_init = live.emulator.stats()["requests_total"]
        assert backend.backend_info.device_name == "star"
        assert len(backend.backend_info.architecture.nodes) == 5  # type: ignore[union-attr]
        c = backend.get_compiled_circuit(Circuit(2, 2).H(0).CX(0, 1).measure_all())
        handle = backend.process_circuits([c], n_shots=10)[0]
        assert backend.circuit_status(handle).submitted_time is not None
        assert sum(backend.get_result(handle).get_counts().values()) == 10
    assert after_init == 3  # the quantum-computer listing, the architecture, its metrics


def test_bad_token_fails_at_construction(live_emulator_factory: Start) -> None:
    live = live_emulator_factory(EmulatorConfig(seed=6, require_auth=True))
    with pytest.raises(AuthenticationError):
        IQMBackend(device="garnet", api_token="not-a-token", server_url=live.url)


def test_unknown_device_fails_at_construction_naming_the_devices(
    live_emulator: LiveEmulator,
) -> None:
    with pytest.raises(ConfigurationError, match="no quantum computer 'pyrite'; it has: garnet"):
        IQMBackend("pyrite", server_url=live_emulator.url)


def test_architecture_given_offline_needs_no_io(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, api="cocos") as online:
        saved = online._device.dqa.model_dump_json()  # type: ignore[union-attr]
    live_emulator.emulator.reset_stats()
    with IQMBackend(device="garnet", server_url=live_emulator.url, architecture=saved) as b:
        compiled = b.get_compiled_circuit(Circuit(3, 3).H(0).CX(0, 2).measure_all())
        assert len(b.backend_info.architecture.nodes) == 20  # type: ignore[union-attr]
    assert compiled.n_gates > 0
    assert live_emulator.emulator.stats()["requests_total"] == 0


def test_bad_offline_architecture_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigurationError, match="not a valid dynamic quantum architecture"):
        offline_architecture('{"qubits": 3}')
    with pytest.raises(ConfigurationError, match="got int"):
        offline_architecture(3)


# --- pytket's error types --------------------------------------------------------------------


def test_invalid_circuit_is_pytkets_circuit_not_valid_error(live_emulator: LiveEmulator) -> None:
    with IQMBackend(live_emulator.url, api="cocos") as b:
        with pytest.raises(CircuitNotValidError, match="uses gates the device does not run"):
            b.process_circuits([Circuit(2, 2).H(0).measure_all()], n_shots=5)
        too_wide = Circuit(21, 21).H(20).measure_all()
        with pytest.raises(CircuitValidationError, match="has 21 qubits; the device has 20"):
            b.get_compiled_circuit(too_wide)
