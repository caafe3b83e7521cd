"""EmulatorConfig: every knob of the emulator, each with a default (CLI flags map 1:1)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigurationError

__all__ = ["EmulatorConfig"]

_DEFAULT_COMPUTERS = ("garnet",)
_PROBABILITIES = ("fail_rate", "throttle_rate", "drop_rate", "job_fail_rate", "latency_spike_rate")


@dataclass
class EmulatorConfig:
    """Settings of one emulator instance.

    Attributes:
        seed: seeds job ids, measurement results and fault draws; ``None`` = fresh entropy.
        arch: ``"garnet"`` (default), ``"star"``, ``"star-resonator"`` or a DQA JSON path:
            the chip the V1 ("CoCoS") routes serve. It is always ``quantum_computers[0]``.
        quantum_computers: the quantum computers the IQM Server API v1 routes list, by
            architecture name (each name is also the alias): default ``("garnet",)``. Each has
            its own QPU queue; the job store is shared. Give either field: setting ``arch``
            alone serves that one chip; setting ``quantum_computers`` alone makes its first
            entry the V1 chip; when both are set, ``quantum_computers`` must start with
            ``arch``.
        parallel: run every job at once instead of one QPU first-in-first-out.
        job_seconds: fixed time per job in seconds; ``None`` (default) means
            ``job_overhead_s + shots * shot_s``.
        job_overhead_s: per-job time in seconds outside the shots (compilation, upload,
            readout); default 0.5 s.
        shot_s: time per shot in seconds; default 0.0005 s (a 2 kHz repetition rate), so a
            1,000-shot job takes 1 s.
        require_auth: job and architecture routes answer 401 without a valid bearer token.
        token_seconds: access-token lifetime in seconds (default 3600); refresh tokens live
            ten times longer.
        username, password: the one account the token endpoint accepts.
        fail_rate: probability per request of a 500, 502 or 503 answer (route not run).
        throttle_rate: probability per request of a 429 with ``Retry-After`` (route not run).
        retry_after_s: the ``Retry-After`` value of injected 429s in seconds (default 1.0;
            may be below 1, e.g. 0.05, and is then sent as a decimal).
        drop_rate: probability per request that the connection is dropped without an answer
            *after* the route ran (a submit may have created the job).
        latency_ms: extra latency per request in milliseconds, with ±50 % uniform jitter.
        latency_spike_rate: probability per request of a latency spike (default 0).
        latency_spike_ms: extra latency of a spike in milliseconds, ±50 % jitter, on top of
            ``latency_ms`` (default 0).
        job_fail_rate: probability that a job ends ``failed`` with a message.
        max_shots: most shots per job; more gives a 400 (default 100,000).
        readout_noise: flip measured bits with each qubit's readout errors (e01, e10): the
            served metrics' where there are metrics, else the architecture file's figures.
        metrics: the quality metrics served (IQM Server API
            ``calibration-sets/{qc}/{id}/metrics``, V1 ``calibration/metrics/{id}``):
            ``None`` (default) serves what the architecture carries (an ``iqm-async
            snapshot`` file's) and otherwise answers 404 like a server without metrics;
            ``"generated"`` serves plausible figures for every computer, fixed by ``seed``
            (``None`` counts as 0: a chip's figures do not change between runs); a path
            loads the first computer's metrics from a file (either server's reply or a
            snapshot), the others being generated.
        noise: simulate with the noise the metrics imply (depolarising after prx, cz and
            move, readout flips; see ``iqm_async.emulator.noise``); with ``metrics=None``
            the metrics are generated. At most 10 qubits per circuit.
        idle_noise: with ``noise``, also let waiting qubits relax and dephase (T1, T2).
    """

    seed: int | None = None
    arch: str = "garnet"
    quantum_computers: tuple[str, ...] = ("garnet",)
    parallel: bool = False
    job_seconds: float | None = None
    job_overhead_s: float = 0.5
    shot_s: float = 0.0005
    require_auth: bool = False
    token_seconds: float = 3600.0
    username: str = "emulator-user"
    password: str = "emulator-password"
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_s: float = 1.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    latency_spike_rate: float = 0.0
    latency_spike_ms: float = 0.0
    job_fail_rate: float = 0.0
    max_shots: int = 100_000
    readout_noise: bool = False
    metrics: str | None = None
    noise: bool = False
    idle_noise: bool = False

    def __post_init__(self) -> None:
        self._reconcile_quantum_computers()
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"EmulatorConfig.{name} must be in [0, 1], got {value}")
        if self.fail_rate + self.throttle_rate + self.drop_rate > 1.0:
            raise ConfigurationError(
                "EmulatorConfig: fail_rate + throttle_rate + drop_rate must not exceed 1"
            )
        for name in ("job_overhead_s", "shot_s", "retry_after_s", "latency_ms", "latency_spike_ms"):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"EmulatorConfig.{name} must not be negative")
        if self.job_seconds is not None and self.job_seconds < 0:
            raise ConfigurationError("EmulatorConfig.job_seconds must not be negative")
        if self.token_seconds <= 0:
            raise ConfigurationError("EmulatorConfig.token_seconds must be positive")
        if self.max_shots < 1:
            raise ConfigurationError("EmulatorConfig.max_shots must be at least 1")
        if self.idle_noise and not self.noise:
            raise ConfigurationError(
                "EmulatorConfig.idle_noise adds idle decay to the gate noise: set noise=True too"
            )
        if self.metrics is not None and not self.metrics.strip():
            raise ConfigurationError(
                "EmulatorConfig.metrics must be None, 'generated' or a file path, got ''"
            )

    def _reconcile_quantum_computers(self) -> None:
        computers = tuple(self.quantum_computers)
        if not computers:
            raise ConfigurationError("EmulatorConfig.quantum_computers must name at least one")
        if len(set(computers)) != len(computers):
            raise ConfigurationError(
                f"EmulatorConfig.quantum_computers names a computer twice: {list(computers)}"
            )
        if computers == _DEFAULT_COMPUTERS:
            computers = (self.arch,)  # ``arch`` alone: one chip
        elif self.arch == _DEFAULT_COMPUTERS[0]:
            self.arch = computers[0]  # ``quantum_computers`` alone: its first is the V1 chip
        elif computers[0] != self.arch:
            raise ConfigurationError(
                f"EmulatorConfig: arch '{self.arch}' must be the first of quantum_computers "
                f"{list(computers)} (the V1 routes serve the first); set only one of them"
            )
        self.quantum_computers = computers

    def job_duration_s(self, shots: int) -> float:
        """Total time one job takes on an idle QPU, in seconds."""
        if self.job_seconds is not None:
            return self.job_seconds
        return self.job_overhead_s + shots * self.shot_s
