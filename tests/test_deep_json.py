"""A reply nested 100,000 deep never escapes as RecursionError: it is a reply that is not
what the API says (InvalidResponseError), or an error text shown as it is."""

from __future__ import annotations

import httpx
import pytest
import respx

from iqm_async.api import CocosV1, IQMServerV1
from iqm_async.auth import AuthServerSource
from iqm_async.errors import AuthenticationError, InvalidResponseError
from iqm_async.transport import json_or_none, server_message

pytestmark = pytest.mark.anyio

DEEP = b"[" * 100_000 + b"]" * 100_000
REQUEST = httpx.Request("GET", "https://iqm.test/jobs/1")


def deep_reply(status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=DEEP, request=REQUEST)


def test_json_or_none_takes_anything() -> None:
    assert json_or_none(deep_reply()) is None
    assert json_or_none(httpx.Response(200, content=b"\xff\xfe", request=REQUEST)) is None
    assert json_or_none(httpx.Response(200, json={"a": 1}, request=REQUEST)) == {"a": 1}


@pytest.mark.parametrize("api", [CocosV1(), IQMServerV1("garnet")])
def test_variants_read_a_deep_reply_as_invalid(api: CocosV1 | IQMServerV1) -> None:
    for read in (api.read_job_id, api.read_status):
        with pytest.raises(InvalidResponseError):
            read(deep_reply())
    with pytest.raises(InvalidResponseError):
        api.read_result("0b8e6a53-6a3f-4d0e-8f55-0c4f1e9d2a71", deep_reply())
    text = api.error_text(deep_reply(500))
    assert str(text).startswith("[[[") and len(str(text)) <= 600
    assert server_message(deep_reply(500)).startswith("[[[")


async def test_an_auth_server_answering_a_deep_body_is_an_authentication_error(
    anyio_backend: str,
) -> None:
    with respx.mock() as mock:
        mock.post(url__regex=r"https://auth\.iqm\.test/.*").respond(200, content=DEEP)
        source = AuthServerSource("https://auth.iqm.test", "alice", "pw-123", max_attempts=1)
        with pytest.raises(AuthenticationError, match="without a usable access token"):
            await source.get_token()
        await source.aclose()
