"""``python -m iqm_async.emulator [--host H] [--port P] [options]``: serve the emulator."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from .config import EmulatorConfig
from .runner import serve


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option maps 1:1 to an :class:`EmulatorConfig` field."""
    defaults = EmulatorConfig()
    p = argparse.ArgumentParser(
        prog="python -m iqm_async.emulator",
        description="Serve a local IQM server (V1 and IQM Server v1 APIs) with simulated QPUs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--seed", type=int, default=None, help="seed results, ids and faults")
    p.add_argument(
        "--arch", default=defaults.arch, help="garnet | star | star-resonator | FILE (V1 routes)"
    )
    p.add_argument(
        "--quantum-computers",
        type=_names,
        default=defaults.quantum_computers,
        help="comma-separated architectures served by the IQM Server API v1 routes, e.g. "
        "garnet,star-resonator (the first is also --arch)",
    )
    p.add_argument("--parallel", action="store_true", help="run every job at once")
    p.add_argument("--job-seconds", type=float, default=None, help="fixed seconds per job")
    p.add_argument("--job-overhead-s", type=float, default=defaults.job_overhead_s)
    p.add_argument("--shot-s", type=float, default=defaults.shot_s)
    p.add_argument("--require-auth", action="store_true", help="job routes need a token")
    p.add_argument("--token-seconds", type=float, default=defaults.token_seconds)
    p.add_argument("--username", default=defaults.username)
    p.add_argument("--password", default=defaults.password)
    p.add_argument("--fail-rate", type=float, default=0.0, help="P(500/502/503) per request")
    p.add_argument("--throttle-rate", type=float, default=0.0, help="P(429) per request")
    p.add_argument("--retry-after-s", type=float, default=defaults.retry_after_s)
    p.add_argument("--drop-rate", type=float, default=0.0, help="P(dropped connection)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="extra latency (±50%% jitter)")
    p.add_argument("--latency-spike-rate", type=float, default=0.0, help="P(latency spike)")
    p.add_argument("--latency-spike-ms", type=float, default=0.0, help="spike size (±50%%)")
    p.add_argument("--job-fail-rate", type=float, default=0.0, help="P(a job fails)")
    p.add_argument("--max-shots", type=int, default=defaults.max_shots)
    p.add_argument("--readout-noise", action="store_true", help="apply readout errors")
    p.add_argument(
        "--metrics",
        default=None,
        help="quality metrics served: 'generated' (from --seed) or a FILE (a metrics reply or "
        "an iqm-async snapshot); default: none unless --arch is a snapshot",
    )
    p.add_argument(
        "--noise",
        action="store_true",
        help="simulate with the metrics' noise (gate depolarising, readout flips)",
    )
    p.add_argument("--idle-noise", action="store_true", help="with --noise: T1/T2 idle decay")
    return p


def config_from_args(argv: Sequence[str] | None = None) -> tuple[EmulatorConfig, str, int]:
    """Parse ``argv`` into ``(config, host, port)``."""
    args = vars(build_parser().parse_args(argv))
    host = args.pop("host")
    port = args.pop("port")
    return EmulatorConfig(**args), host, port


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m iqm_async.emulator``."""
    config, host, port = config_from_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    computers = ", ".join(config.quantum_computers)
    print(f"IQM emulator ({computers}) on http://{host}:{port}", flush=True)
    serve(config, host=host, port=port)


if __name__ == "__main__":
    main()
