"""The ``iqm-async`` command: run circuits, inspect jobs and serve the local emulator.

::

    iqm-async run bell.qasm --shots 1000          # local emulator when no server is set
    iqm-async --url https://cocos.example.com status 3f2c...
    iqm-async serve --port 8000 --parallel
    iqm-async --url https://iqm.example.com snapshot -o garnet.json
    iqm-async serve --arch garnet.json --noise      # rehearse on a replica, offline

Server and credentials come from options or the library's environment variables
(``IQM_SERVER_URL``, ``IQM_TOKEN``, ``IQM_TOKENS_FILE``, ``IQM_AUTH_SERVER``,
``IQM_AUTH_USERNAME``, ``IQM_AUTH_PASSWORD``). Errors print one line and exit with status 1
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

from .errors import IQMError

T = TypeVar("T")

__all__ = ["main"]


@dataclass
class _Settings:
    url: str | None
    credentials: dict[str, Any]
    server: dict[str, Any]  # the server's API and quantum computer, for AsyncIQMClient
    debug: bool


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="IQM_SERVER_URL", help="IQM server URL [env: IQM_SERVER_URL].")
@click.option("--token", default=None, help="API token [env: IQM_TOKEN].")
@click.option("--tokens-file", default=None, help="Tokens file [env: IQM_TOKENS_FILE].")
@click.option("--auth-server-url", default=None, help="Auth server [env: IQM_AUTH_SERVER].")
@click.option("--username", default=None, help="Auth server user [env: IQM_AUTH_USERNAME].")
@click.option("--password", default=None, help="Auth server password [env: IQM_AUTH_PASSWORD].")
@click.option(
    "--api",
    type=click.Choice(["auto", "cocos", "iqm-server"]),
    default="auto",
    show_default=True,
    help="The server's API: asked once (auto), V1 'CoCoS' jobs, or the IQM Server API.",
)
@click.option(
    "--quantum-computer",
    envvar="IQM_QUANTUM_COMPUTER",
    default=None,
    help="Quantum computer alias on an IQM Server [env: IQM_QUANTUM_COMPUTER].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str | None,
    token: str | None,
    tokens_file: str | None,
    auth_server_url: str | None,
    username: str | None,
    password: str | None,
    api: str,
    quantum_computer: str | None,
    debug: bool,
) -> None:
    """Run quantum circuits on IQM quantum computers (or the local emulator)."""
    ctx.obj = _Settings(
        url=url,
        credentials={
            "token": token,
            "tokens_file": tokens_file,
            "auth_server_url": auth_server_url,
            "username": username,
            "password": password,
        },
        server={"api": api, "quantum_computer": quantum_computer},
        debug=debug,
    )


def _settings() -> _Settings:
    return click.get_current_context().find_object(_Settings)  # type: ignore[return-value]


def _require_url(settings: _Settings) -> str:
    if not settings.url:
        _fail("No server given: pass --url or set IQM_SERVER_URL.")
    assert settings.url is not None
    return settings.url


def _with_client(func: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``func(client)`` with an AsyncIQMClient of the configured server."""
    from .client import AsyncIQMClient

    settings = _settings()
    url = _require_url(settings)

    async def main() -> T:
        async with AsyncIQMClient(url, **settings.server, **settings.credentials) as client:
            return await func(client)

    return anyio.run(main)


@contextmanager
def _server_for_run(settings: _Settings) -> Iterator[str]:
    if settings.url:
        yield settings.url
        return
    from .emulator import EmulatorConfig, running_emulator

    click.echo("No IQM server configured: running on a local emulator.", err=True)
    with running_emulator(EmulatorConfig(parallel=True, job_seconds=0.0)) as url:
        yield url


def _load_circuit(path: Path) -> Any:
    from pytket.circuit import Circuit
    from pytket.qasm.qasm import circuit_from_qasm

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return Circuit.from_dict(json.loads(text))
        except (ValueError, RuntimeError, KeyError, TypeError) as exc:
            _fail(f"{path}: not a pytket circuit JSON ({exc}).")
    try:
        return circuit_from_qasm(str(path))
    except Exception as exc:  # pytket's QASM parser raises several foreign types
        _fail(f"{path}: not a valid OpenQASM 2 file ({exc}).")


def _print_counts(counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(counts, sort_keys=True))
        return
    total = sum(counts.values()) or 1
    width = max([len("bitstring"), *(len(k) for k in counts)])
    click.echo(f"{'bitstring':<{width}}  {'count':>7}  {'prob':>6}")
    for bits, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        bar = "#" * round(30 * n / total)
        click.echo(f"{bits:<{width}}  {n:>7}  {n / total:6.3f}  {bar}")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shots", type=click.IntRange(min=1), required=True, help="Shots to run.")
@click.option("--level", type=click.IntRange(0, 2), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
def run(file: Path, shots: int, level: int, as_json: bool) -> None:
    """Compile FILE (OpenQASM 2 or pytket JSON), run it, print the counts."""
    from .backend import IQMBackend

    settings = _settings()
    circuit = _load_circuit(file)
    with (
        _server_for_run(settings) as url,
        IQMBackend(
            url, progress=False, client_options=settings.server, **settings.credentials
        ) as b,
    ):
        compiled = b.get_compiled_circuit(circuit, optimisation_level=level)
        result = b.run_circuit(compiled, n_shots=shots)
        counts = {"".join(map(str, k)): int(v) for k, v in result.get_counts().items()}
    _print_counts(counts, as_json)


@cli.command()
@click.argument("job_id")
def status(job_id: str) -> None:
    """Print the status of job JOB_ID."""
    job_id = _checked_job_id(job_id)
    reply = _with_client(lambda client: client.job(job_id).status())
    click.echo(_status_line(reply))


def _checked_job_id(job_id: str) -> str:
    """The job id, refused before any request when it is not a UUID."""
    from .api import check_uuid

    return str(check_uuid(job_id, "job_id"))


def _status_line(status: Any) -> str:
    """``phase``, then the server's own word when it says more, the queue position and
    progress where the server reports them, then its message."""
    line = str(status.phase)
    if status.raw != line:
        line += f" ({status.raw})"
    if status.queue_position is not None:
        line += f", {status.queue_position} jobs ahead in the queue"
    if status.progress is not None:
        line += f", {status.progress:.0%} done"
    return f"{line}: {status.message}" if status.message else line


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def qcs(as_json: bool) -> None:
    """List the quantum computers of an IQM Server."""
    listed = _with_client(lambda client: client.quantum_computers())
    if as_json:
        click.echo(json.dumps([qc.model_dump(mode="json") for qc in listed]))
        return
    for qc in listed:
        click.echo(f"{qc.alias:<16} {qc.display_name or ''}".rstrip())


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print counts as JSON.")
def result(job_id: str, as_json: bool) -> None:
    """Wait for job JOB_ID and print the counts of each of its circuits."""
    job_id = _checked_job_id(job_id)
    counts = _with_client(lambda client: client.job(job_id).counts())
    batch = [dict(c.counts) for c in counts]
    if as_json:
        click.echo(json.dumps(batch, sort_keys=True))
        return
    for index, circuit_counts in enumerate(batch):
        if len(batch) > 1:
            click.echo(f"circuit {index}:")
        _print_counts(circuit_counts, False)


@cli.command()
@click.argument("job_id")
def abort(job_id: str) -> None:
    """Abort job JOB_ID."""
    job_id = _checked_job_id(job_id)
    _with_client(lambda client: client.job(job_id).abort())
    click.echo(f"aborted {job_id}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def arch(as_json: bool) -> None:
    """Print the device's qubits and couplings (default calibration set)."""
    dqa = _with_client(lambda client: client.dynamic_architecture())
    if as_json:
        click.echo(json.dumps({"qubits": dqa.qubits, "couplings": dqa.couplings}))
        return
    click.echo(f"calibration set {dqa.calibration_set_id}")
    click.echo(f"qubits ({len(dqa.qubits)}): {' '.join(dqa.qubits)}")
    click.echo(
        f"couplings ({len(dqa.couplings)}): " + " ".join(f"{a}-{b}" for a, b in dqa.couplings)
    )


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The snapshot file to write (JSON).",
)
@click.option(
    "--url", "snapshot_url", default=None, help="The server (overrides the global --url)."
)
@click.option(
    "--quantum-computer",
    "snapshot_qc",
    default=None,
    help="Quantum computer alias (overrides the global --quantum-computer).",
)
@click.option(
    "--calibration-set", default=None, help="A calibration set UUID (default: the server's)."
)
def snapshot(
    output: Path, snapshot_url: str | None, snapshot_qc: str | None, calibration_set: str | None
) -> None:
    """Save a server's architecture and quality metrics to one file the emulator serves
    offline (`iqm-async serve --arch FILE`, `EmulatorConfig(arch=FILE)`)."""
    settings = _settings()
    if snapshot_url:
        settings.url = snapshot_url
    if snapshot_qc:
        settings.server["quantum_computer"] = snapshot_qc
    body = _with_client(lambda client: _snapshot_of(client, calibration_set))
    output.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    metrics = body["metrics"]
    figures = len(metrics["observations"]) if metrics else 0
    click.echo(
        f"wrote {output}: {body['quantum_computer']}, calibration set "
        f"{body['dynamic_quantum_architecture']['calibration_set_id']}, {figures} metric figures"
    )


async def _snapshot_of(client: Any, calibration_set: str | None) -> dict[str, Any]:
    """The snapshot file's content (``iqm_async.emulator.metrics.SNAPSHOT_FORMAT``): the
    dynamic and static architectures and the metrics as an IQM Server API metric set."""
    from datetime import datetime, timezone

    import httpx

    from .emulator.metrics import SNAPSHOT_FORMAT, observation_set

    dqa = await client.dynamic_architecture(calibration_set)
    metrics = await client.quality_metrics(dqa.calibration_set_id)
    static = await client.quantum_architecture()
    name = getattr(client.api, "quantum_computer", None) or static.name
    now = datetime.now(timezone.utc)
    stamp = now.replace(tzinfo=None).isoformat(timespec="microseconds")
    source = httpx.URL(str(client.url)).copy_with(userinfo=b"", query=None)  # no secrets
    return {
        "format": SNAPSHOT_FORMAT,
        "created": now.isoformat(timespec="seconds"),
        "source": str(source),
        "quantum_computer": name,
        "dynamic_quantum_architecture": dqa.model_dump(mode="json"),
        "quantum_architecture": static.model_dump(mode="json"),
        "metrics": None
        if metrics.is_empty
        else observation_set(metrics, dqa, name=name, timestamp=stamp),
    }


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("emulator_args", nargs=-1, type=click.UNPROCESSED)
def serve(emulator_args: tuple[str, ...]) -> None:
    """Serve the local emulator (options as `python -m iqm_async.emulator --help`)."""
    from .emulator.__main__ import main as emulator_main

    emulator_main(list(emulator_args))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``iqm-async`` console script."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="iqm-async", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except IQMError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
