"""Item: a body reaches the function only with Content-Length > 0, as from the real host."""

from __future__ import annotations

import logging

import pytest

from devstack.host.request_body import BodyForwarding, body_forwarding
from tests.host.helpers import InProcessHost
from tests.support.raw_http import chunked, connect, read_response, request


@pytest.mark.parametrize(
    ("headers", "forward", "explained"),
    [
        ({"content-length": "5"}, True, False),
        ({"content-length": " 12 "}, True, False),
        ({"content-length": "0"}, False, False),
        ({}, False, False),
        ({"transfer-encoding": "chunked"}, False, True),
        ({"transfer-encoding": "gzip, chunked"}, False, True),
        ({"transfer-encoding": "chunked", "content-length": "0"}, False, True),
        ({"content-length": "-1"}, False, False),
        ({"content-length": "x"}, False, False),
    ],
)
def test_body_forwarding_rules(headers: dict, forward: bool, explained: bool) -> None:
    decision = body_forwarding(headers)
    assert decision.forward is forward
    assert (decision.withheld_because is not None) is explained


def test_the_reason_never_carries_control_characters_or_long_values() -> None:
    decision = body_forwarding({"transfer-encoding": "chunked\x1b[31m" + "x" * 200})
    assert decision.withheld_because is not None
    assert "\x1b" not in decision.withheld_because and "x" * 41 not in decision.withheld_because
    assert body_forwarding({"content-length": "3"}) == BodyForwarding(forward=True)


async def test_chunked_post_reaches_the_function_empty_and_the_log_says_why(
    basic_host: InProcessHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await connect(basic_host.base_url)
    try:
        secret = b"chunk-payload-must-not-be-logged"
        writer.write(
            request("POST", "/api/body-length", "Transfer-Encoding: chunked", body=chunked(secret))
        )
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"0")
        # The connection stays usable, and a body with a length still arrives whole.
        writer.write(request("POST", "/api/body-length", "Content-Length: 5", body=b"hello"))
        response = await read_response(reader)
        assert (response.status, response.body) == (200, b"5")
    finally:
        writer.close()
    why = [r for r in caplog.records if "empty body" in r.getMessage()]
    assert len(why) == 1
    assert why[0].levelno == logging.WARNING
    assert "'body_length'" in why[0].getMessage()
    assert "Transfer-Encoding: chunked" in why[0].getMessage()
    assert "Content-Length > 0" in why[0].getMessage()
    assert not any(secret.decode() in r.getMessage() for r in caplog.records)


async def test_requests_with_a_length_are_not_explained(
    basic_host: InProcessHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for data in (b"abc", b""):
        async with basic_host.session.post(
            f"{basic_host.base_url}/api/body-length", data=data
        ) as response:
            assert (response.status, await response.text()) == (200, str(len(data)))
    assert not [r for r in caplog.records if "empty body" in r.getMessage()]
