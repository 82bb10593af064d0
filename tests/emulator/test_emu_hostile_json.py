"""Deeply nested input from any caller is refused cleanly (issue 11, item 2).

REST filters, REST JSON bodies, continuation tokens, JSON-protocol frames and the app's
upstream replies: each gets its documented refusal (400, 1007, a failed event) and the log
holds no traceback.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web

from devstack.emulator import safejson

from .emu_helpers import (
    HUB,
    call,
    client_url,
    emulator,
    expect_close,
    handler_hubs,
    recv_json,
)

DEEP = "[" * 5000 + "]" * 5000
JSON = "json.webpubsub.azure.v1"
HOSTILE_FILTERS = {
    "300 parentheses": "(" * 300 + "userId eq 'a'" + ")" * 300,
    "1000 not": "not " * 1000 + "true",
    "400 tolower": "tolower(" * 400 + "userId" + ")" * 400 + " eq 'a'",
}


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()
        assert "Traceback" not in record.getMessage()


@pytest.mark.parametrize("text", HOSTILE_FILTERS.values(), ids=HOSTILE_FILTERS.keys())
async def test_deep_filters_are_400_with_a_reason(emu, http, caplog, text: str) -> None:
    caplog.set_level(logging.DEBUG)
    query = f"api-version=2024-12-01&filter={quote(text)}"
    status, _, body = await call(
        http, emu, "POST", "/:send", query=query, data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert status == 400
    assert b"nested too deeply" in body
    no_traceback(caplog)


async def test_deep_filter_in_add_to_groups_body_is_400(emu, http, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"groups": ["g"], "filter": HOSTILE_FILTERS["1000 not"]}
    status, _, text = await call(http, emu, "POST", "/:addToGroups", json=body)
    assert status == 400
    assert b"nested too deeply" in text
    no_traceback(caplog)


@pytest.mark.parametrize("path", ["/:send", "/:addToGroups"])
async def test_deep_json_bodies_are_400(emu, http, caplog, path: str) -> None:
    caplog.set_level(logging.DEBUG)
    status, _, _ = await call(
        http, emu, "POST", path, data=DEEP, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    no_traceback(caplog)


async def test_deep_continuation_token_is_400(emu, http, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token = base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")
    query = f"api-version=2024-12-01&continuationToken={token}"
    status, _, _ = await call(http, emu, "GET", "/groups/g/connections", query=query)
    assert status == 400
    no_traceback(caplog)


async def test_deep_json_protocol_frame_closes_with_1007(service, http, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ws = await http.ws_connect(await client_url(service), protocols=[JSON])
    await recv_json(ws)
    await ws.send_str('{"type":"event","event":"e","dataType":"json","data":' + DEEP + "}")
    assert await expect_close(ws) == 1007
    no_traceback(caplog)


@pytest.mark.parametrize("event", ["connect", "message"])
async def test_deep_upstream_replies_are_refused_without_traceback(
    upstream, caplog, event: str
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.responders[event] = lambda rec: web.Response(
        text=DEEP, content_type="application/json"
    )
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        aiohttp.ClientSession() as http,
    ):
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as service:
            url = await client_url(service, user_id="u")
        if event == "connect":
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(url, protocols=[JSON])
            assert info.value.status == 500
        else:
            ws = await http.ws_connect(url, protocols=[JSON])
            await recv_json(ws)
            frame = '{"type":"event","event":"message","dataType":"text","data":"x","ackId":1}'
            await ws.send_str(frame)
            ack = await recv_json(ws)
            assert (ack["type"], ack["ackId"], ack["success"]) == ("ack", 1, False)
            await ws.close()
    no_traceback(caplog)


def test_safejson_depth_limit() -> None:
    assert safejson.loads("[" * 64 + "]" * 64) is not None
    assert safejson.loads('["[[[[' + "[" * 100 + '"]') is not None  # brackets inside strings
    with pytest.raises(safejson.JSONTooDeep):
        safejson.loads("[" * 65 + "]" * 65)
    with pytest.raises(ValueError):
        safejson.loads(DEEP.encode())
    assert safejson.nesting_depth('{"a": [1, {"b": "}}}"}]}') == 3
