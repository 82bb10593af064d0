"""Upstream CloudEvents calls against a recording aiohttp handler."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re

import aiohttp
import pytest
from aiohttp import web
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from .emu_helpers import HUB, Upstream, client_url, emulator, expect_close, handler_hubs, recv_json

JSON = "json.webpubsub.azure.v1"


async def service_for(emu) -> WebPubSubServiceClient:
    return WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)


async def test_abuse_protection_then_full_event_sequence(upstream: Upstream, http) -> None:
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        url = await client_url(svc, user_id="alice", roles=["r1"])
        async with http.ws_connect(url + "&extra=1&extra=2", protocols=[JSON]) as ws:
            connected = await recv_json(ws)
            conn_id = connected["connectionId"]
            await ws.send_json(
                {"type": "event", "event": "hello", "dataType": "text", "data": "hi", "ackId": 1}
            )
            assert await recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}
            await upstream.wait_for("connected")
        await upstream.wait_for("disconnected")

    options = [r for r in upstream.requests if r.method == "OPTIONS"]
    assert options, "abuse protection must run before the first event"
    assert options[0].headers["WebHook-Request-Origin"] == "localhost"
    assert options[0].headers["ce-awpsversion"] == "1.0"
    assert options[0].path == "/api/chat/validate"
    assert upstream.requests[0].method == "OPTIONS"
    # Cached: one validation per resolved validation URL.
    assert len(options) == 1

    connect, connected_ev, hello, disconnected = (
        upstream.events("connect")[0],
        upstream.events("connected")[0],
        upstream.events("hello")[0],
        upstream.events("disconnected")[0],
    )
    expected_sig = (
        "sha256="
        + hmac.new(emu.config.access_key.encode(), conn_id.encode(), hashlib.sha256).hexdigest()
    )
    for rec, ce_type, ce_id in (
        (connect, "azure.webpubsub.sys.connect", "0"),
        (connected_ev, "azure.webpubsub.sys.connected", None),
        (hello, "azure.webpubsub.user.hello", None),
        (disconnected, "azure.webpubsub.sys.disconnected", None),
    ):
        h = rec.headers
        assert h["ce-specversion"] == "1.0"
        assert h["ce-awpsversion"] == "1.0"
        assert h["ce-type"] == ce_type
        assert h["ce-source"] == f"/hubs/chat/client/{conn_id}"
        assert h["ce-hub"] == "chat"
        assert h["ce-connectionId"] == conn_id
        assert h["ce-userId"] == "alice"
        assert h["ce-signature"] == expected_sig
        assert h["WebHook-Request-Origin"] == "localhost"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["ce-time"])
        assert "x-ms-client-request-id" in h
        assert "Authorization" not in h
        if ce_id is not None:
            assert h["ce-id"] == ce_id
    assert connect.headers["ce-eventName"] == "connect"
    assert "ce-subprotocol" not in connect.headers
    assert connected_ev.headers["ce-subprotocol"] == JSON
    assert {
        connected_ev.headers["ce-id"],
        hello.headers["ce-id"],
        disconnected.headers["ce-id"],
    } == {"1", "2", "3"}
    assert connect.path == "/api/chat/connect" and hello.path == "/api/chat/hello"

    body = json.loads(connect.body)
    assert body["claims"]["sub"] == ["alice"]
    assert body["claims"]["role"] == ["r1"]
    assert body["query"]["extra"] == ["1", "2"]
    assert "access_token" not in body["query"]
    assert body["subprotocols"] == [JSON]
    assert body["clientCertificates"] == []
    assert all(k.lower() != "authorization" for k in body["headers"])
    assert json.loads(connected_ev.body) == {}
    assert hello.headers["Content-Type"].startswith("text/plain")
    assert hello.body == b"hi"
    assert json.loads(disconnected.body) == {"reason": ""}


async def test_options_404_falls_back_to_get(upstream: Upstream, http) -> None:
    upstream.options_status = 404
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
    methods = [r.method for r in upstream.requests]
    assert methods[:3] == ["OPTIONS", "GET", "POST"]
    assert upstream.requests[1].headers["WebHook-Request-Origin"] == "localhost"


@pytest.mark.parametrize("allowed", [None, "evil.example", "localhost,other"])
async def test_failed_validation_blocks_connect_with_500(upstream: Upstream, http, allowed) -> None:
    upstream.allowed_origin = allowed
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(await client_url(svc), protocols=[JSON])
        assert info.value.status == 500
    assert upstream.events() == []


async def test_connect_overrides(upstream: Upstream, http) -> None:
    upstream.responders["connect"] = lambda rec: web.json_response(
        {
            "userId": "override",
            "roles": ["webpubsub.sendToGroup.g2"],
            "groups": ["g1"],
            "subprotocol": "json.reliable.webpubsub.azure.v1",
        },
        headers={"ce-connectionState": "c3RhdGU=", "Set-Cookie": "sid=42; Path=/"},
    )
    upstream.responders["echo"] = lambda rec: web.Response(
        text="state was " + rec.headers.get("ce-connectionState", "-"),
        headers={"ce-connectionState": "bmV3"},
    )
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        url = await client_url(svc, user_id="token-user", roles=["webpubsub.joinLeaveGroup"])
        async with http.ws_connect(url, protocols=[JSON, "json.reliable.webpubsub.azure.v1"]) as ws:
            assert ws.protocol == "json.reliable.webpubsub.azure.v1"
            connected = await recv_json(ws)
            assert connected["userId"] == "override"
            assert "reconnectionToken" in connected
            # groups override: already in g1
            await svc.send_to_group("g1", "to g1", content_type="text/plain")
            assert (await recv_json(ws))["data"] == "to g1"
            # roles override replaced joinLeaveGroup with sendToGroup.g2
            await ws.send_json({"type": "joinGroup", "group": "x", "ackId": 1})
            assert (await recv_json(ws))["error"]["name"] == "Forbidden"
            await ws.send_json({"type": "sendToGroup", "group": "g2", "data": 1, "ackId": 2})
            assert (await recv_json(ws))["success"] is True
            await ws.send_json({"type": "event", "event": "echo", "data": 1, "ackId": 3})
            reply = await recv_json(ws)
            assert reply["from"] == "server" and reply["data"] == "state was c3RhdGU="
            assert (await recv_json(ws))["ackId"] == 3
            await ws.send_json({"type": "event", "event": "echo", "data": 1, "ackId": 4})
            assert (await recv_json(ws))["data"] == "state was bmV3"
            assert await svc.user_exists("override")
            assert not await svc.user_exists("token-user")
    echo = upstream.events("echo")[0]
    assert echo.headers["ce-userId"] == "override"
    assert echo.headers["Cookie"] == "sid=42"
    assert echo.headers["ce-subprotocol"] == "json.reliable.webpubsub.azure.v1"
    assert echo.headers["Content-Type"] == "application/json"


async def test_connect_override_with_unoffered_subprotocol_is_500(upstream: Upstream, http) -> None:
    upstream.responders["connect"] = lambda rec: web.json_response({"subprotocol": "other"})
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(await client_url(svc), protocols=[JSON])
        assert info.value.status == 500


async def test_custom_subprotocol_chosen_by_handler_makes_a_raw_client(
    upstream: Upstream, http
) -> None:
    upstream.responders["connect"] = lambda rec: web.json_response({"subprotocol": "chat.v1"})
    upstream.responders["message"] = lambda rec: web.Response(text="got " + rec.body.decode())
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=["chat.v1"]) as ws,
    ):
        assert ws.protocol == "chat.v1"
        await ws.send_str("x")
        assert (await ws.receive(timeout=5)).data == "got x"


@pytest.mark.parametrize(
    ("responder", "status"),
    [
        (lambda rec: web.Response(status=401), 401),
        (lambda rec: web.Response(status=403, text="nope"), 403),
        (lambda rec: web.Response(status=429), 429),
        (lambda rec: web.Response(text="{not json", content_type="application/json"), 500),
        (lambda rec: web.json_response({"groups": [""]}), 500),
        (lambda rec: web.json_response({"roles": None, "userId": 5}), 500),
    ],
)
async def test_connect_rejections_pass_status(
    upstream: Upstream, http, responder, status: int
) -> None:
    upstream.responders["connect"] = responder
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(await client_url(svc), protocols=[JSON])
        assert info.value.status == status
        await asyncio.sleep(0.05)
    assert upstream.events("connected") == [] and upstream.events("disconnected") == []


async def test_unreachable_handler_is_500(http) -> None:
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with (
        emulator(hubs=handler_hubs(f"http://127.0.0.1:{port}")) as emu,
        await service_for(emu) as svc,
    ):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(await client_url(svc), protocols=[JSON])
        assert info.value.status == 500


async def test_a_user_event_while_the_handler_is_down(http) -> None:
    """The handler's host is gone (killed; nothing listens): the service retries the refused
    connection (1, 3, 5 s; faster here), then a raw client, whose every frame is a `message`
    event, is closed with 1011; a JSON client gets a failed ack and stays connected
    (reference 3.7 and 2.9). tests/e2e/test_rooms.py kills the host and relies on this."""
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    hubs = handler_hubs(f"http://127.0.0.1:{port}", system=(), anonymous="allow")
    async with emulator(hubs=hubs) as emu, await service_for(emu) as svc:
        async with http.ws_connect(await client_url(svc)) as raw:
            await raw.send_str("anyone there?")
            closing = await raw.receive(timeout=5)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert (closing.data, closing.extra) == (1011, "Internal server error")
        async with http.ws_connect(await client_url(svc), protocols=[JSON]) as ws:
            assert (await recv_json(ws))["event"] == "connected"
            await ws.send_json({"type": "event", "event": "work", "data": 1, "ackId": 4})
            assert await recv_json(ws) == {
                "type": "ack",
                "ackId": 4,
                "success": False,
                "error": {"name": "InternalServerError", "message": "Internal server error"},
            }
            await ws.send_json({"type": "ping"})
            assert await recv_json(ws) == {"type": "pong"}


async def test_retry_on_5xx_reuses_ce_id_and_request_id(upstream: Upstream, http) -> None:
    attempts: list[int] = []

    def flaky(rec):
        attempts.append(1)
        if len(attempts) < 3:
            return web.Response(status=503 if len(attempts) == 1 else 408)
        return web.Response(text="finally")

    upstream.responders["work"] = flaky
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json({"type": "event", "event": "work", "data": 1, "ackId": 9})
        assert (await recv_json(ws))["data"] == "finally"
        assert await recv_json(ws) == {"type": "ack", "ackId": 9, "success": True}
    work = upstream.events("work")
    assert len(work) == 3
    assert len({r.headers["ce-id"] for r in work}) == 1
    assert len({r.headers["x-ms-client-request-id"] for r in work}) == 1
    assert work[0].body == work[2].body


async def test_4xx_is_not_retried_and_gives_internal_server_error_ack(
    upstream: Upstream, http
) -> None:
    upstream.responders["bad"] = lambda rec: web.Response(status=400)
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json({"type": "event", "event": "bad", "data": 1, "ackId": 1})
        assert await recv_json(ws) == {
            "type": "ack",
            "ackId": 1,
            "success": False,
            "error": {"name": "InternalServerError", "message": "Internal server error"},
        }
        # The connection stays open and the failed ackId may be retried.
        await ws.send_json({"type": "event", "event": "bad", "data": 1, "ackId": 1})
        assert (await recv_json(ws))["error"]["name"] == "InternalServerError"
        await ws.send_json({"type": "event", "event": "bad", "data": 1})  # no ackId: silent
        await ws.send_json({"type": "ping"})
        assert await recv_json(ws) == {"type": "pong"}
    assert len(upstream.events("bad")) == 3


async def test_duplicate_ack_id_is_not_sent_upstream(upstream: Upstream, http) -> None:
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        for _ in range(2):
            await ws.send_json({"type": "event", "event": "once", "data": 1, "ackId": 5})
        assert (await recv_json(ws))["success"] is True
        assert (await recv_json(ws))["error"]["name"] == "Duplicate"
    assert len(upstream.events("once")) == 1


async def test_upstream_timeout_gives_internal_server_error(upstream: Upstream, http) -> None:
    async def slow(rec):
        await asyncio.sleep(1.2)
        return web.Response()

    upstream.responders["slow"] = slow
    async with (
        emulator(hubs=handler_hubs(upstream.url), upstream_timeout=0.5) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json({"type": "event", "event": "slow", "data": 1, "ackId": 1})
        assert (await recv_json(ws))["error"]["name"] == "InternalServerError"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/plain", b"plain", {"dataType": "text", "data": "plain"}),
        ("application/json", b'{"k": [1]}', {"dataType": "json", "data": {"k": [1]}}),
        ("application/octet-stream", b"\x01\x02", {"dataType": "binary", "data": "AQI="}),
    ],
)
async def test_json_client_reply_mapping(
    upstream: Upstream, http, content_type, body, expected
) -> None:
    upstream.responders["ask"] = lambda rec: web.Response(body=body, content_type=content_type)
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json(
            {"type": "event", "event": "ask", "dataType": "binary", "data": "AAE=", "ackId": 1}
        )
        assert await recv_json(ws) == {"type": "message", "from": "server", **expected}
        assert (await recv_json(ws))["ackId"] == 1
    ask = upstream.events("ask")[0]
    assert ask.body == b"\x00\x01"
    assert ask.headers["Content-Type"] == "application/octet-stream"


async def test_raw_client_message_event_reply_and_failure(upstream: Upstream, http) -> None:
    replies = iter(
        [
            web.Response(text="pong-text"),
            web.Response(body=b"\x09", content_type="application/octet-stream"),
            web.Response(status=204),
            web.Response(status=500),
        ]
    )
    upstream.responders["message"] = lambda rec: next(replies)
    hubs = handler_hubs(upstream.url, system=(), pattern="message")
    async with (
        emulator(hubs=hubs, retry_delays=()) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc)) as raw,
    ):
        await raw.send_str("ping")
        assert (await raw.receive(timeout=5)).data == "pong-text"
        await raw.send_bytes(b"\x01")
        msg = await raw.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"\x09"
        await raw.send_str("no reply expected")
        await raw.send_str("fails")
        assert await expect_close(raw) == 1011
    messages = upstream.events("message")
    assert messages[0].headers["Content-Type"].startswith("text/plain")
    assert messages[1].headers["Content-Type"] == "application/octet-stream"
    assert [m.body for m in messages] == [b"ping", b"\x01", b"no reply expected", b"fails"]
    assert "ce-subprotocol" not in messages[0].headers


async def test_user_event_pattern_without_match_fails(upstream: Upstream, http) -> None:
    hubs = handler_hubs(upstream.url, pattern="only")
    async with (
        emulator(hubs=hubs) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json({"type": "event", "event": "other", "data": 1, "ackId": 1})
        assert (await recv_json(ws))["error"]["name"] == "InternalServerError"
    assert upstream.events("other") == []


async def test_disconnected_reason_after_rest_close(upstream: Upstream, http) -> None:
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        conn_id = (await recv_json(ws))["connectionId"]
        await svc.close_connection(conn_id, reason="done")
        assert (await recv_json(ws))["event"] == "disconnected"
        (event,) = await upstream.wait_for("disconnected")
    assert json.loads(event.body) == {
        "reason": "Application server closed the connection. Reason: done"
    }


async def test_event_handler_receives_metadata_headers(upstream: Upstream, http) -> None:
    upstream.responders["meta"] = lambda rec: web.Response(
        status=200, headers={"X-WebPubSub-Metadata-Reply": "yes"}
    )
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        await service_for(emu) as svc,
        http.ws_connect(await client_url(svc), protocols=[JSON]) as ws,
    ):
        await recv_json(ws)
        await ws.send_json(
            {
                "type": "event",
                "event": "meta",
                "data": 1,
                "metadata": {"Trace": "t1"},
                "ackId": 1,
            }
        )
        # Empty body but metadata headers -> an empty text message carrying the metadata.
        assert await recv_json(ws) == {
            "type": "message",
            "from": "server",
            "dataType": "text",
            "data": "",
            "metadata": {"reply": "yes"},
        }
    assert upstream.events("meta")[0].headers["x-webpubsub-metadata-trace"] == "t1"


async def test_stop_is_quick_while_a_handler_call_is_in_flight(upstream: Upstream, http) -> None:
    async def stuck(rec):
        await asyncio.sleep(30)
        return web.Response()

    upstream.responders["stuck"] = stuck
    loop = asyncio.get_running_loop()
    async with emulator(hubs=handler_hubs(upstream.url)) as emu, await service_for(emu) as svc:
        ws = await http.ws_connect(await client_url(svc), protocols=[JSON])
        await recv_json(ws)
        await ws.send_json({"type": "event", "event": "stuck", "data": 1, "ackId": 1})
        await upstream.wait_for("stuck")
        started = loop.time()
    assert loop.time() - started < 10
