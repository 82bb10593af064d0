"""The client WebSocket endpoint driven with raw WebSockets (aiohttp)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt
import pytest
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator, hubs_from_dict
from tests.support.waiting import until

from .emu_helpers import HUB, client_url, detached, emulator, expect_close, recv_json

JSON = "json.webpubsub.azure.v1"
RELIABLE = "json.reliable.webpubsub.azure.v1"
ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]


def ws_base(emu: Emulator, hub: str = HUB) -> str:
    return emu.client_url(hub)


async def handshake_status(http: aiohttp.ClientSession, url: str, **kwargs) -> int:
    try:
        async with http.ws_connect(url, **kwargs):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


def token(
    emu: Emulator, *, aud: str | None = None, exp_delta: int = 60, key: str | None = None, **claims
) -> str:
    payload = {
        "aud": aud or f"{emu.endpoint}/client/hubs/{HUB}",
        "exp": int(time.time()) + exp_delta,
        **claims,
    }
    return jwt.encode(payload, key or emu.config.access_key, algorithm="HS256")


async def test_sdk_token_connects_and_gets_connected_message(service, http) -> None:
    url = await client_url(service, user_id="alice")
    async with http.ws_connect(url, protocols=[JSON]) as ws:
        assert ws.protocol == JSON
        msg = await recv_json(ws)
        assert msg["type"] == "system" and msg["event"] == "connected"
        assert msg["userId"] == "alice"
        assert "reconnectionToken" not in msg


async def test_bearer_header_token_is_accepted(emu, http) -> None:
    headers = {"Authorization": f"Bearer {token(emu, sub='bob')}"}
    async with http.ws_connect(ws_base(emu), protocols=[JSON], headers=headers) as ws:
        assert (await recv_json(ws))["userId"] == "bob"


@pytest.mark.parametrize(
    "bad",
    ["garbage", "wrong-key", "expired", "wrong-aud", "wrong-hub"],
)
async def test_bad_tokens_get_401_before_upgrade(emu, http, bad: str) -> None:
    value = {
        "garbage": "abc.def.ghi",
        "wrong-key": token(emu, key="Z" * 40),
        "expired": token(emu, exp_delta=-3600),
        "wrong-aud": token(emu, aud="http://elsewhere:1/client/hubs/Chat"),
        "wrong-hub": token(emu, aud=f"{emu.endpoint}/client/hubs/Other"),
    }[bad]
    assert await handshake_status(http, f"{ws_base(emu)}?access_token={value}") == 401


async def test_bad_group_claim_is_400(emu, http) -> None:
    value = token(emu, **{"webpubsub.group": [" "]})
    assert await handshake_status(http, f"{ws_base(emu)}?access_token={value}") == 400


async def test_anonymous_denied_by_default(emu, http) -> None:
    assert await handshake_status(http, ws_base(emu)) == 401


async def test_anonymous_allowed_by_hub_policy(http) -> None:
    hubs = hubs_from_dict({HUB: {"AnonymousConnectPolicy": "allow"}})
    async with emulator(hubs=hubs) as emu, http.ws_connect(ws_base(emu), protocols=[JSON]) as ws:
        msg = await recv_json(ws)
        assert msg["userId"] is None
        assert await handshake_status(http, ws_base(emu, "OtherHub")) == 401


async def test_not_a_websocket_and_bad_hub(emu, http) -> None:
    async with http.get(f"{emu.endpoint}/client/hubs/{HUB}") as resp:
        assert resp.status == 400
    assert await handshake_status(http, ws_base(emu, "1bad")) == 400
    assert await handshake_status(http, ws_base(emu, "")) == 400


@pytest.mark.parametrize(
    "query",
    [
        "webpubsub_mode=bogus",
        "webpubsub_mode=sendToGroup",
        "webpubsub_mode=sendToGroup&group=a&group=b",
        "noEcho=maybe",
    ],
)
async def test_bad_raw_mode_parameters_are_400(emu, http, query: str) -> None:
    url = f"{ws_base(emu)}?access_token={token(emu)}&{query}"
    assert await handshake_status(http, url) == 400


async def test_unknown_subprotocol_without_handler_is_400(emu, http) -> None:
    url = f"{ws_base(emu)}?access_token={token(emu)}"
    assert await handshake_status(http, url, protocols=["custom.v1"]) == 400


async def test_join_send_leave_flow_and_acks(service, http) -> None:
    url_a = await client_url(service, user_id="a", roles=ROLES)
    url_b = await client_url(service, user_id="b", roles=ROLES)
    async with (
        http.ws_connect(url_a, protocols=[JSON]) as a,
        http.ws_connect(url_b, protocols=[JSON]) as b,
    ):
        await recv_json(a)
        await recv_json(b)
        for ws in (a, b):
            await ws.send_json({"type": "joinGroup", "group": "room", "ackId": 1})
            assert await recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}
        await a.send_json(
            {"type": "sendToGroup", "group": "room", "dataType": "text", "data": "hi", "ackId": 2}
        )
        # Echo to the sender comes before its ack.
        assert (await recv_json(a))["data"] == "hi"
        assert await recv_json(a) == {"type": "ack", "ackId": 2, "success": True}
        got = await recv_json(b)
        assert got == {
            "type": "message",
            "from": "group",
            "group": "room",
            "fromUserId": "a",
            "dataType": "text",
            "data": "hi",
        }
        # noEcho: only b receives.
        await a.send_json(
            {"type": "sendToGroup", "group": "room", "data": {"n": 1}, "noEcho": True, "ackId": 3}
        )
        assert await recv_json(a) == {"type": "ack", "ackId": 3, "success": True}
        assert (await recv_json(b))["data"] == {"n": 1}
        await b.send_json({"type": "leaveGroup", "group": "room", "ackId": 4})
        assert (await recv_json(b))["success"] is True
        await a.send_json(
            {
                "type": "sendToGroup",
                "group": "room",
                "dataType": "binary",
                "data": "AAE=",
                "ackId": 5,
            }
        )
        assert (await recv_json(a))["data"] == "AAE="
        await a.send_json({"type": "ping"})
        await recv_json(a)  # ack 5
        assert await recv_json(a) == {"type": "pong"}
        with pytest.raises(asyncio.TimeoutError):
            await b.receive(timeout=0.3)


async def test_forbidden_and_duplicate_acks(service, http) -> None:
    url = await client_url(service, roles=["webpubsub.joinLeaveGroup.allowed"])
    async with http.ws_connect(url, protocols=[JSON]) as ws:
        await recv_json(ws)
        await ws.send_json({"type": "joinGroup", "group": "secret", "ackId": 1})
        assert await recv_json(ws) == {
            "type": "ack",
            "ackId": 1,
            "success": False,
            "error": {
                "name": "Forbidden",
                "message": "The client does not have permission to join group 'secret'.",
            },
        }
        await ws.send_json({"type": "sendToGroup", "group": "allowed", "data": 1, "ackId": 2})
        assert (await recv_json(ws))["error"]["name"] == "Forbidden"
        await ws.send_json({"type": "joinGroup", "group": "allowed", "ackId": 3})
        assert (await recv_json(ws))["success"] is True
        await ws.send_json({"type": "joinGroup", "group": "allowed", "ackId": 3})
        assert await recv_json(ws) == {
            "type": "ack",
            "ackId": 3,
            "success": False,
            "error": {"name": "Duplicate", "message": "Message with ack-id: 3 has been processed"},
        }
        # A failed ackId is not cached: retrying it after a grant works.
        await ws.send_json({"type": "joinGroup", "group": "secret", "ackId": 1})
        assert (await recv_json(ws))["error"]["name"] == "Forbidden"


async def test_token_groups_are_joined_on_connect(service, http) -> None:
    url = await client_url(service, groups=["g1"])
    async with http.ws_connect(url, protocols=[JSON]) as ws:
        await recv_json(ws)
        await service.send_to_group("g1", "hello", content_type="text/plain")
        assert (await recv_json(ws))["group"] == "g1"


@pytest.mark.parametrize(
    ("send", "code"),
    [
        ("not json", 1007),
        ('{"type":"nope"}', 1007),
        ('{"type":"joinGroup","group":"g","ackId":-5}', 1007),
        (b"\x00\x01", 1003),
    ],
)
async def test_invalid_frames_close_with_codes(service, http, send, code: int) -> None:
    url = await client_url(service)
    async with http.ws_connect(url, protocols=[JSON]) as ws:
        await recv_json(ws)
        if isinstance(send, bytes):
            await ws.send_bytes(send)
        else:
            await ws.send_str(send)
        assert await expect_close(ws) == code


async def test_oversized_frame_closes_1009_and_others_keep_working(service, http) -> None:
    url = await client_url(service, roles=ROLES)
    async with (
        http.ws_connect(url, protocols=[JSON], max_msg_size=0) as big,
        http.ws_connect(url, protocols=[JSON]) as other,
    ):
        await recv_json(big)
        await recv_json(other)
        await big.send_str("x" * (1024 * 1024 + 1))
        assert await expect_close(big) == 1009
        await other.send_json({"type": "joinGroup", "group": "g", "ackId": 1})
        assert (await recv_json(other))["success"] is True


async def test_frame_of_exactly_one_mib_is_accepted(service, http) -> None:
    url = await client_url(service, roles=ROLES)
    async with http.ws_connect(url, protocols=[JSON], max_msg_size=0) as ws:
        await recv_json(ws)
        prefix = '{"type":"sendToGroup","group":"g","ackId":1,"dataType":"text","data":"'
        data = "a" * (1024 * 1024 - len(prefix) - 2)
        await ws.send_str(prefix + data + '"}')
        assert await recv_json(ws) == {"type": "ack", "ackId": 1, "success": True}


async def test_raw_send_to_group_mode_with_no_echo(service, emu, http) -> None:
    listener_url = await client_url(service, roles=ROLES)
    sender_url = await client_url(
        service, user_id="s", roles=["webpubsub.sendToGroup.room"], groups=["room"]
    )
    async with http.ws_connect(listener_url, protocols=[JSON]) as listener:
        await recv_json(listener)
        await listener.send_json({"type": "joinGroup", "group": "room", "ackId": 1})
        await recv_json(listener)
        async with http.ws_connect(
            sender_url + "&webpubsub_mode=SendToGroup&group=room&noEcho=true"
        ) as raw:
            await raw.send_str("plain text")
            await raw.send_bytes(b"\x01\x02")
            first = await recv_json(listener)
            assert first["fromUserId"] == "s" and first["dataType"] == "text"
            assert first["data"] == "plain text"
            second = await recv_json(listener)
            assert second["dataType"] == "binary" and second["data"] == "AQI="
            with pytest.raises(asyncio.TimeoutError):
                await raw.receive(timeout=0.3)


async def test_raw_send_to_group_without_permission_closes_1008(service, http) -> None:
    url = await client_url(service)
    async with http.ws_connect(url + "&webpubsub_mode=sendToGroup&group=room") as raw:
        await raw.send_str("x")
        assert await expect_close(raw) == 1008


async def test_raw_client_receives_bare_payloads(service, http) -> None:
    url = await client_url(service, user_id="r")
    async with http.ws_connect(url) as raw:
        assert raw.protocol is None
        await service.send_to_all({"a": 1})
        assert (await raw.receive(timeout=5)).data == '{"a": 1}'
        await service.send_to_user("r", "txt", content_type="text/plain")
        assert (await raw.receive(timeout=5)).data == "txt"
        await service.send_to_all(b"\x00\xff", content_type="application/octet-stream")
        msg = await raw.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"\x00\xff"


async def test_raw_message_without_handler_closes_1011(service, http) -> None:
    url = await client_url(service)
    async with http.ws_connect(url) as raw:
        await raw.send_str("hello")
        assert await expect_close(raw) == 1011


async def test_sequence_ack_ignored_on_plain_protocol(service, http) -> None:
    url = await client_url(service)
    async with http.ws_connect(url, protocols=[JSON]) as ws:
        await recv_json(ws)
        await ws.send_json({"type": "sequenceAck", "sequenceId": 1})
        await service.send_to_all("x", content_type="text/plain")
        msg = await recv_json(ws)
        assert "sequenceId" not in msg and msg["data"] == "x"


async def test_reliable_replay_after_dropped_socket(emu, service, http) -> None:
    url = await client_url(service, user_id="rel")
    ws = await http.ws_connect(url, protocols=[RELIABLE])
    connected = await recv_json(ws)
    conn_id, reconnect = connected["connectionId"], connected["reconnectionToken"]
    await service.send_to_all("m1", content_type="text/plain")
    assert await recv_json(ws) == {
        "sequenceId": 1,
        "type": "message",
        "from": "server",
        "dataType": "text",
        "data": "m1",
    }
    await ws.send_json({"type": "sequenceAck", "sequenceId": 1})
    await service.send_to_all("m2", content_type="text/plain")
    assert (await recv_json(ws))["sequenceId"] == 2
    await ws.close(code=4000)  # abnormal close: the connection stays recoverable
    await until(lambda: detached(emu, conn_id))
    assert await service.connection_exists(conn_id)
    await service.send_to_all("m3", content_type="text/plain")  # delivered while detached
    recover = f"{ws_base(emu)}?awps_connection_id={conn_id}&awps_reconnection_token={reconnect}"
    async with http.ws_connect(recover, protocols=[RELIABLE]) as again:
        replay = [await recv_json(again), await recv_json(again)]
        assert [(m["sequenceId"], m["data"]) for m in replay] == [(2, "m2"), (3, "m3")]
        await service.send_to_all("m4", content_type="text/plain")
        assert (await recv_json(again))["sequenceId"] == 4


@pytest.mark.parametrize("case", ["unknown-id", "bad-token", "closed-by-rest"])
async def test_failed_recovery_closes_1008(emu, service, http, case: str) -> None:
    url = await client_url(service)
    ws = await http.ws_connect(url, protocols=[RELIABLE])
    connected = await recv_json(ws)
    conn_id, reconnect = connected["connectionId"], connected["reconnectionToken"]
    await ws.close(code=4000)
    await until(lambda: detached(emu, conn_id))
    if case == "unknown-id":
        conn_id = "nope"
    elif case == "bad-token":
        reconnect = "x.y.z"
    else:
        await service.close_connection(conn_id, reason="gone")
    recover = f"{ws_base(emu)}?awps_connection_id={conn_id}&awps_reconnection_token={reconnect}"
    async with http.ws_connect(recover, protocols=[RELIABLE]) as again:
        assert await expect_close(again) == 1008
        assert again.close_code == 1008


async def test_recovery_window_expiry_removes_connection(http) -> None:
    async with emulator(recovery_window=0.3) as emu:
        svc = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        async with svc:
            ws = await http.ws_connect(await client_url(svc), protocols=[RELIABLE])
            conn_id = (await recv_json(ws))["connectionId"]
            await ws.close(code=4000)
            await until(lambda: detached(emu, conn_id))
            assert await svc.connection_exists(conn_id)
            await until(lambda: emu.clients.registry.find(HUB, conn_id) is None, what="expiry")
            assert not await svc.connection_exists(conn_id)


async def test_client_normal_close_ends_reliable_connection(emu, service, http) -> None:
    ws = await http.ws_connect(await client_url(service), protocols=[RELIABLE])
    conn_id = (await recv_json(ws))["connectionId"]
    await ws.close()
    await until(lambda: emu.clients.registry.find(HUB, conn_id) is None)
    assert not await service.connection_exists(conn_id)


async def test_slow_client_does_not_block_others(http) -> None:
    async with emulator(outbound_queue_bytes=2 * 1024 * 1024) as emu:
        svc = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        async with svc:
            url = await client_url(svc)
            async with http.ws_connect(url, protocols=[JSON]) as fast:
                await recv_json(fast)
                # A "slow" client: a raw TCP socket that completes the handshake and never reads.
                reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
                path = url.split(str(emu.port), 1)[1]
                handshake = (
                    f"GET {path} HTTP/1.1\r\nHost: localhost:{emu.port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {JSON}\r\n\r\n"
                )
                writer.write(handshake.encode())
                await writer.drain()
                assert b"101" in await reader.readline()
                big = "y" * 200_000
                hub = emu.clients.registry.hub(HUB)
                started = asyncio.get_running_loop().time()
                sent = 0
                # Kernel socket buffers absorb an unknown amount first, so send until the
                # emulator gives up on the slow client (bounded).
                while len(hub.connections) > 1 and sent < 300:
                    await svc.send_to_all(big, content_type="text/plain")
                    sent += 1
                    assert len((await recv_json(fast))["data"]) == len(big)
                    await asyncio.sleep(0)
                async with asyncio.timeout(5):
                    while len(hub.connections) > 1:
                        await asyncio.sleep(0.05)
                assert asyncio.get_running_loop().time() - started < 20
                # The fast client kept receiving everything and is still connected.
                await svc.send_to_all("after", content_type="text/plain")
                assert (await recv_json(fast))["data"] == "after"
                writer.close()


async def test_reliable_buffer_overflow_makes_connection_unrecoverable(http) -> None:
    async with emulator(reliable_buffer_limit=3) as emu:
        svc = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        async with svc:
            ws = await http.ws_connect(await client_url(svc), protocols=[RELIABLE])
            connected = await recv_json(ws)
            await ws.close(code=4000)
            await until(lambda: detached(emu, connected["connectionId"]))
            for i in range(4):
                await svc.send_to_all(f"m{i}", content_type="text/plain")
            assert not await svc.connection_exists(connected["connectionId"])
            recover = (
                f"{ws_base(emu)}?awps_connection_id={connected['connectionId']}"
                f"&awps_reconnection_token={connected['reconnectionToken']}"
            )
            async with http.ws_connect(recover, protocols=[RELIABLE]) as again:
                assert await expect_close(again) == 1008


async def test_hub_names_are_case_insensitive(emu, http) -> None:
    upper = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub="CHAT")
    lower = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub="chat")
    async with upper, lower, http.ws_connect(await client_url(upper), protocols=[JSON]) as ws:
        conn_id = (await recv_json(ws))["connectionId"]
        await lower.send_to_all("across cases", content_type="text/plain")
        assert (await recv_json(ws))["data"] == "across cases"
        # Group names stay case-sensitive.
        await lower.add_connection_to_group("Room", conn_id)
        assert await upper.group_exists("Room")
        assert not await upper.group_exists("room")
