"""schemathesis fuzzes every OpenAPI route of the emulator in-process: no 5xx but injected ones.

The emulator's handlers read the raw request (for speed), so FastAPI's schema declares no
bodies and no path parameters; the schema fuzzed here adds them: the RunRequest JSON of
``POST /jobs`` (from the wire model), the form of the token and logout endpoints, and path
parameters that are any string or an id the emulator knows. One valid run request is among
the bodies, so the handlers also run their success paths. Faults are on (10 % injected 5xx);
an injected answer is recognised by its body, and every other 5xx fails the test.

Bounded: ``MAX_EXAMPLES`` per route, about 10 s in all.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from iqm_async.emulator import EmulatorConfig, create_app
from iqm_async.models import RunRequest

MAX_EXAMPLES = 30
SEEN: Counter[str] = Counter()
"""Answers seen while fuzzing ("<method> <path> <status>", or "injected 5xx")."""
INJECTED = "Emulated server fault"
APP = create_app(EmulatorConfig(seed=11, parallel=True, job_seconds=0.0, fail_rate=0.1))
FORM = "application/x-www-form-urlencoded"


VALID_RUN: dict[str, Any] = {
    "circuits": [
        {
            "name": "bell",
            "instructions": [
                {"name": "prx", "qubits": ["QB1"], "args": {"angle_t": 0.25, "phase_t": 0.0}},
                {"name": "measure", "qubits": ["QB1"], "args": {"key": "m"}},
            ],
        }
    ],
    "shots": 10,
}
"""A run request the emulator accepts; fuzzing also sends it, so some submits succeed."""

KNOWN_JOB = APP.state.emulator.submit(json.dumps(VALID_RUN).encode()).job_id


def _ids(name: str) -> dict[str, Any]:
    """A path parameter: any string, or an id the emulator knows (so handlers run fully)."""
    known = (
        [KNOWN_JOB]
        if name == "job_id"
        else ["default", APP.state.emulator.architecture.calibration_set_id]
    )
    return {"anyOf": [{"enum": known}, {"type": "string"}]}


def _fuzzed_schema() -> dict[str, Any]:
    """The app's OpenAPI document with the request bodies the handlers actually read."""
    document = APP.openapi()
    components = document.setdefault("components", {}).setdefault("schemas", {})
    run_request = RunRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(run_request.pop("$defs", {}))
    components["RunRequest"] = run_request
    paths = document["paths"]
    body = {"anyOf": [{"$ref": "#/components/schemas/RunRequest"}, {"const": VALID_RUN}]}
    paths["/jobs"]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": body}},
    }
    form = {
        "type": "object",
        "properties": {
            name: {"type": "string"}
            for name in ("client_id", "grant_type", "username", "password", "refresh_token")
        },
    }
    for path, route in paths.items():
        if path.startswith("/realms/"):
            route["post"]["requestBody"] = {"content": {FORM: {"schema": form}}}
        names = re.findall(r"{(\w+)}", path)
        for operation in route.values():
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": _ids(name)}
                for name in names
            ]
    return document


SCHEMA = schemathesis.openapi.from_dict(_fuzzed_schema())
SCHEMA.app = APP


def _injected(body: bytes) -> bool:
    try:
        detail = json.loads(body).get("detail", "")
    except (ValueError, AttributeError):
        return False
    return isinstance(detail, str) and detail.startswith(INJECTED)


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_that_was_not_injected(case: schemathesis.Case) -> None:
    response = case.call()
    injected = response.status_code >= 500 and _injected(response.content)
    SEEN["injected 5xx" if injected else f"{case.method} {case.path} {response.status_code}"] += 1
    if response.status_code >= 500:
        assert injected, (
            f"{case.method} {case.formatted_path} answered {response.status_code} "
            f"{response.content[:300]!r}"
        )


def test_the_fuzzed_schema_covers_every_route() -> None:
    fuzzed = {(op.ok().method.upper(), op.ok().path) for op in SCHEMA.get_all_operations()}
    routes = {
        (method, route.path)
        for route in APP.routes
        for method in getattr(route, "methods", ()) or ()
        if method != "HEAD"
        and route.path not in ("/openapi.json", "/docs", "/redoc")
        and not route.path.startswith("/docs/")
    }
    assert routes <= fuzzed
    assert APP.state.emulator.config.fail_rate > 0  # faults on: injected 5xx are told apart


def test_the_fuzzing_reached_the_handlers() -> None:
    # Runs after the fuzzing (pytest keeps the order of definition within a module).
    if not SEEN:
        pytest.skip("the fuzzing did not run in this session")
    assert SEEN["injected 5xx"] > 0
    assert SEEN["POST /jobs 201"] > 0  # generated run requests the emulator accepted
    assert SEEN["POST /jobs 400"] > 0  # ... and ones it refused, with a 400
    assert SEEN["GET /jobs/{job_id} 200"] > 0  # the known job's full result
    assert SEEN["GET /jobs/{job_id} 404"] > 0
    assert SEEN["GET /api/v1/calibration/{calibration_set_id}/gates 200"] > 0
