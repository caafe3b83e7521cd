# Copyright Quantinuum
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# Ported from CQCL/pytket-iqm tests/conftest.py (tag v0.17.0, the newest tag; pytket-iqm
# 0.18.0's backend module is that version's with its imports reordered). What changed:
# - imports: IQMBackend from iqm_async; the emulator's helpers added.
# - the fixture's construction: instead of a real server and a token from
#   PYTKET_REMOTE_IQM_API_TOKEN, one loopback emulator per session with auth on, serving two
#   quantum computers ("garnet", also its V1 chip, and "star"), and `authenticated_iqm_backend`
#   parametrised over both server APIs: on the IQM Server API in pytket-iqm 0.16-0.18's form,
#   IQMBackend(device, api_token=<a token from the emulator>, server_url=<the emulator>); on
#   V1 in the seed's form, IQMBackend(url, auth_server_url=..., username=..., password=...)
#   with api="cocos" (the emulator's root URL answers both APIs, so the API is named).
# - new fixtures: PYTKET_RUN_REMOTE_TESTS is set so the skip markers let the tests run;
#   IQM_SERVER_URL points IQMBackend(device) without server_url (test_invalid_cred) at the
#   emulator; ambient IQM_* credentials and pytket's config file are hidden.
# The test bodies are unchanged.

import os
from collections.abc import Iterator

import pytest
from emulator_fixtures import access_token
from pytket.circuit import Circuit

from iqm_async import IQMBackend
from iqm_async.emulator import EmulatorConfig, running_emulator_with_state

os.environ["PYTKET_RUN_REMOTE_TESTS"] = "1"  # read when the test modules are imported

USERNAME = "pytket-iqm-user"
PASSWORD = "emulator-password"  # the emulator's default password (known to the leak guard)
EMULATOR = EmulatorConfig(
    seed=18,
    parallel=True,
    job_seconds=0.0,
    require_auth=True,
    username=USERNAME,
    password=PASSWORD,
    quantum_computers=("garnet", "star"),
)
DEVICE = "star"  # the IQM Server API form runs on the second quantum computer


@pytest.fixture(name="emulator_url", scope="session")
def fixture_emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for var in ("IQM_TOKEN", "IQM_TOKENS_FILE", "IQM_AUTH_SERVER", "IQM_AUTH_USERNAME"):
            env.delenv(var, raising=False)
        env.delenv("IQM_AUTH_PASSWORD", raising=False)
        env.delenv("IQM_QUANTUM_COMPUTER", raising=False)
        env.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        with running_emulator_with_state(EMULATOR) as (url, _):
            env.setenv("IQM_SERVER_URL", url)
            yield url


@pytest.fixture(autouse=True)
def _on_the_emulator(emulator_url: str) -> None:
    """Every test, also those that build their own IQMBackend, talks to the emulator."""


@pytest.fixture(name="authenticated_iqm_backend", scope="session", params=["iqm-server", "v1"])
def fixture_authenticated_iqm_backend(
    request: pytest.FixtureRequest, emulator_url: str
) -> Iterator[IQMBackend]:
    # Authenticated IQMBackend used for the remote tests, on the emulator with auth on.
    if request.param == "iqm-server":
        token = access_token(emulator_url, USERNAME, PASSWORD)
        backend = IQMBackend(device=DEVICE, api_token=token, server_url=emulator_url)
    else:
        backend = IQMBackend(
            emulator_url,
            auth_server_url=emulator_url,
            username=USERNAME,
            password=PASSWORD,
            api="cocos",
        )
    with backend:
        yield backend


@pytest.fixture(name="sample_circuit", scope="session")
def fixture_sample_circuit() -> Circuit:
    c = Circuit(4, 4)
    c.H(0)
    c.CX(0, 1)
    c.Rz(0.3, 2)
    c.CSWAP(0, 1, 2)
    c.CRz(0.4, 2, 3)
    c.CY(1, 3)
    c.ZZPhase(0.1, 2, 0)
    c.Tdg(3)
    c.measure_all()
    c.name = "test_circuit"
    return c
