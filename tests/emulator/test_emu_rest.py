"""The REST API driven with the official server SDK (and raw HTTP for error paths)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient as SyncServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from tests.support.waiting import until

from .emu_helpers import HUB, call, client_url, expect_close, recv_json, rest_token

JSON = "json.webpubsub.azure.v1"
ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]


async def connect(http, service, **kwargs):
    ws = await http.ws_connect(await client_url(service, **kwargs), protocols=[JSON])
    connected = await recv_json(ws)
    return ws, connected["connectionId"]


async def test_health(emu, http) -> None:
    for method in ("HEAD", "GET"):
        async with http.request(method, emu.health_url) as resp:
            assert resp.status == 200


async def test_sends_reach_the_right_clients(service, http) -> None:
    a, a_id = await connect(http, service, user_id="alice")
    b, b_id = await connect(http, service, user_id="bob")
    await service.add_connection_to_group("g", a_id)
    await service.send_to_all({"to": "all"}, excluded=[b_id])
    assert (await recv_json(a))["data"] == {"to": "all"}
    await service.send_to_user("bob", "for bob", content_type="text/plain")
    assert await recv_json(b) == {
        "type": "message",
        "from": "server",
        "dataType": "text",
        "data": "for bob",
    }
    await service.send_to_connection(a_id, b"\x01", content_type="application/octet-stream")
    assert (await recv_json(a))["data"] == "AQ=="
    await service.send_to_group("g", "group msg", content_type="text/plain")
    msg = await recv_json(a)
    assert msg["from"] == "group" and msg["group"] == "g" and "fromUserId" not in msg
    # filter
    await service.send_to_all("filtered", content_type="text/plain", filter="userId eq 'bob'")
    assert (await recv_json(b))["data"] == "filtered"
    await service.send_to_group(
        "g", "nobody", content_type="text/plain", filter="userId ne 'alice'"
    )
    await service.send_to_all("json string")
    assert (await recv_json(a))["data"] == "json string"  # the first message a sees after filters
    assert (await recv_json(b))["data"] == "json string"
    # Missing targets still 202.
    await service.send_to_user("ghost", "x", content_type="text/plain")
    await service.send_to_connection("ghost", "x", content_type="text/plain")
    await a.close()
    await b.close()


async def test_group_and_user_membership_operations(service, http) -> None:
    a, a_id = await connect(http, service, user_id="u1")
    b, b_id = await connect(http, service, user_id="u1")
    assert await service.user_exists("u1")
    assert not await service.user_exists("u2")
    assert await service.connection_exists(a_id)
    assert not await service.group_exists("g")
    with pytest.raises(ResourceNotFoundError):
        await service.add_connection_to_group("g", "missing")
    await service.add_user_to_group("g", "u1")
    assert await service.group_exists("g")
    members = [m.connection_id async for m in service.list_connections(group="g")]
    assert sorted(members) == sorted([a_id, b_id])
    await service.remove_connection_from_group("g", a_id)
    assert [m.connection_id async for m in service.list_connections(group="g")] == [b_id]
    await service.remove_connection_from_group("g", "missing")  # 204 even if missing
    await service.remove_user_from_group("g", "u1")
    assert not await service.group_exists("g")
    await service.add_connection_to_group("h", a_id)
    await service.add_connection_to_group("i", a_id)
    await service.remove_connection_from_all_groups(a_id)
    assert not await service.group_exists("h") and not await service.group_exists("i")
    await service.add_user_to_group("h", "u1")
    await service.remove_user_from_all_groups("u1")
    assert not await service.group_exists("h")
    with pytest.raises(ResourceNotFoundError):
        await service.add_user_to_group("h", "nobody")
    await a.close()
    await b.close()


async def test_list_connections_pages(service, http) -> None:
    sockets = []
    for _ in range(5):
        ws, conn_id = await connect(http, service)
        sockets.append(ws)
        await service.add_connection_to_group("paged", conn_id)
    ids = [m.connection_id async for m in service.list_connections(group="paged", maxpagesize=2)]
    assert len(ids) == 5 and ids == sorted(ids)
    top = [
        m.connection_id async for m in service.list_connections(group="paged", maxpagesize=2, top=3)
    ]
    assert top == ids[:3]
    assert [m async for m in service.list_connections(group="empty")] == []
    for ws in sockets:
        await ws.close()


async def test_close_connection_with_reason(emu, service, http) -> None:
    ws, conn_id = await connect(http, service)
    await service.close_connection(conn_id, reason="kicked")
    assert await recv_json(ws) == {
        "type": "system",
        "event": "disconnected",
        "message": "Application server closed the connection. Reason: kicked",
    }
    assert await expect_close(ws) == 1000
    await until(lambda: emu.clients.registry.find(HUB, conn_id) is None)
    assert not await service.connection_exists(conn_id)
    await service.close_connection("missing")  # 204


async def test_scoped_closes_with_exclusions(service, http) -> None:
    a, a_id = await connect(http, service, user_id="x")
    b, _ = await connect(http, service, user_id="x")
    c, c_id = await connect(http, service, user_id="y")
    await service.close_user_connections("x", excluded=[a_id])
    assert (await recv_json(b))["event"] == "disconnected"
    assert await expect_close(b) == 1000
    await service.add_connection_to_group("g", c_id)
    await service.close_group_connections("g", reason="r")
    assert (await recv_json(c))["message"].endswith("Reason: r")
    await service.close_all_connections(excluded=[a_id])
    await service.send_to_all("still here", content_type="text/plain")
    assert (await recv_json(a))["data"] == "still here"
    await service.close_all_connections()
    assert (await recv_json(a))["message"] == "Application server closed the connection."
    assert await expect_close(a) == 1000


async def test_raw_client_close_reason_goes_in_close_frame(service, http) -> None:
    url = await client_url(service, user_id="raw")
    async with http.ws_connect(url) as raw:
        await until(lambda: service.user_exists("raw"))  # registered after the 101
        await service.close_user_connections("raw", reason="bye")
        msg = await raw.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000 and msg.extra == "bye"


async def test_permissions_api(service, http) -> None:
    ws, conn_id = await connect(http, service)
    assert not await service.has_permission("sendToGroup", conn_id, target_name="g")
    await service.grant_permission("sendToGroup", conn_id, target_name="g")
    assert await service.has_permission("sendToGroup", conn_id, target_name="g")
    await ws.send_json({"type": "sendToGroup", "group": "g", "data": 1, "ackId": 1})
    assert (await recv_json(ws))["success"] is True
    await service.revoke_permission("sendToGroup", conn_id, target_name="g")
    await ws.send_json({"type": "sendToGroup", "group": "g", "data": 1, "ackId": 2})
    assert (await recv_json(ws))["error"]["name"] == "Forbidden"
    await service.grant_permission("joinLeaveGroup", conn_id, target_name="j")
    await ws.send_json({"type": "joinGroup", "group": "j", "ackId": 3})
    assert (await recv_json(ws))["success"] is True
    with pytest.raises(ResourceNotFoundError):
        await service.grant_permission("sendToGroup", "missing", target_name="g")
    await service.revoke_permission("sendToGroup", "missing", target_name="g")
    await ws.close()


async def test_revoked_wildcard_role_and_membership_kept(service, http) -> None:
    ws, conn_id = await connect(http, service, roles=["webpubsub.joinLeaveGroups.room.*"])
    await ws.send_json({"type": "joinGroup", "group": "room.1", "ackId": 1})
    assert (await recv_json(ws))["success"] is True
    await service.revoke_permission("joinLeaveGroup", conn_id, target_name="room.1")
    await ws.send_json({"type": "leaveGroup", "group": "room.1", "ackId": 2})
    assert (await recv_json(ws))["error"]["name"] == "Forbidden"
    assert await service.group_exists("room.1")  # revoking does not remove membership
    await ws.close()


async def test_sync_sdk_client_works_too(emu) -> None:
    def run() -> bool:
        client = SyncServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        with client:
            client.send_to_all({"x": 1})
            return client.user_exists("nobody")

    assert await asyncio.to_thread(run) is False


async def test_wrong_audience_and_missing_token_are_401(emu, http) -> None:
    status, _, body = await call(
        http, emu, "POST", "/:send", token_url=f"{emu.endpoint}/api/hubs/Other/:send", data=b"x"
    )
    assert status == 401 and body == b""
    status, _, _ = await call(http, emu, "POST", "/:send", headers={"Authorization": ""}, data=b"x")
    assert status == 401
    url = f"{emu.endpoint}/api/hubs/{HUB}/:send?api-version=2024-12-01"
    bad_key = {"Authorization": f"Bearer {rest_token(emu, url, key='Q' * 40)}"}
    assert (await call(http, emu, "POST", "/:send", headers=bad_key, data=b"x"))[0] == 401
    expired = {"Authorization": f"Bearer {rest_token(emu, url, exp_delta=-3600)}"}
    assert (await call(http, emu, "POST", "/:send", headers=expired, data=b"x"))[0] == 401
    # The audience without the query is accepted.
    status, _, _ = await call(http, emu, "POST", "/:send", token_url=url.split("?")[0], data=b"x")
    assert status == 202


async def test_sdk_with_wrong_key_raises_auth_error(emu) -> None:
    bad = emu.connection_string.replace(emu.config.access_key, "W" * 44)
    async with WebPubSubServiceClient.from_connection_string(bad, hub=HUB) as client:
        with pytest.raises(ClientAuthenticationError):
            await client.send_to_all("x")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("api-version=2024-12-01", 202),
        ("api-version=2021-10-01", 202),
        ("", 202),
        ("api-version=2020-01-01", 400),
        ("api-version=2024-12-01&api-version=2024-12-01", 400),
        ("api-version=2024-12-01&messageTtlSeconds=301", 400),
        ("api-version=2024-12-01&messageTtlSeconds=abc", 400),
        ("api-version=2024-12-01&messageTtlSeconds=300", 202),
        ("api-version=2024-12-01&filter=userId%20lt%201", 400),
        ("api-version=2024-12-01&filter=userId%20eq", 400),
    ],
)
async def test_query_validation(emu, http, query: str, status: int) -> None:
    code, headers, body = await call(http, emu, "POST", "/:send", query=query, data=b"x")
    assert code == status
    assert (
        headers["api-supported-versions"]
        == "2021-10-01, 2022-11-01, 2023-07-01, 2024-01-01, 2024-12-01"
    )
    if status == 400:
        assert headers["x-ms-error-code"] == "Error.BadRequest"
        assert body.startswith(b"{") and b'"code": "Error.BadRequest"' in body


async def test_filter_type_error_message(emu, http) -> None:
    _, _, body = await call(http, emu, "POST", "/:send", query="filter=userId%20lt%201", data=b"x")
    assert b"Type 'string', expect 'int'" in body


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{bad", 400),
        ("application/xml", b"<a/>", 415),
        ("text/plain; charset=utf-8", b"ok", 202),
        ("application/octet-stream", b"\x00", 202),
    ],
)
async def test_content_types(emu, http, content_type: str, body: bytes, status: int) -> None:
    code, _, resp_body = await call(
        http, emu, "POST", "/:send", data=body, headers={"Content-Type": content_type}
    )
    assert code == status
    if status == 400:
        assert b"The request body is not a valid JSON." in resp_body


async def test_body_limit_and_chunked_bodies(emu, http) -> None:
    ok = await call(
        http,
        emu,
        "POST",
        "/:send",
        data=b"a" * (1024 * 1024),
        headers={"Content-Type": "text/plain"},
    )
    assert ok[0] == 202
    too_big = await call(
        http,
        emu,
        "POST",
        "/:send",
        data=b"a" * (1024 * 1024 + 1),
        headers={"Content-Type": "text/plain"},
    )
    assert too_big[0] == 413

    async def chunks():
        yield b"abc"

    chunked = await call(
        http, emu, "POST", "/:send", data=chunks(), headers={"Content-Type": "text/plain"}
    )
    assert chunked[0] == 400


async def test_not_found_and_method_errors(emu, http) -> None:
    assert (await call(http, emu, "POST", "/unknown"))[0] == 404
    assert (await call(http, emu, "GET", "/:send"))[0] == 405
    status, headers, _ = await call(http, emu, "PUT", "/groups/g/connections/nope")
    assert status == 404 and headers["x-ms-error-code"] == "Error.Connection.NotExisted"
    status, _, _ = await call(http, emu, "PUT", "/groups/%20%20/connections/nope")
    assert status == 400
    status, _, _ = await call(
        http, emu, "PUT", "/permissions/bogus/connections/c", query="targetName=g"
    )
    assert status == 400
    status, _, _ = await call(http, emu, "PUT", "/permissions/sendToGroup/connections/c")
    assert status == 400  # targetName missing


async def test_metadata_headers_become_message_metadata(service, emu, http) -> None:
    ws, _ = await connect(http, service)
    status, _, _ = await call(
        http,
        emu,
        "POST",
        "/:send",
        data=b"hi",
        headers={"Content-Type": "text/plain", "X-WebPubSub-Metadata-Trace": "a, b"},
    )
    assert status == 202
    assert (await recv_json(ws))["metadata"] == {"trace": "b"}
    too_long = {"Content-Type": "text/plain", "X-WebPubSub-Metadata-K": "v" * 1025}
    assert (await call(http, emu, "POST", "/:send", data=b"x", headers=too_long))[0] == 400
    await ws.close()


async def test_bulk_group_operations(service, emu, http) -> None:
    a, _ = await connect(http, service, user_id="a")
    b, _ = await connect(http, service, user_id="b")
    body = b'{"groups": ["g1", "g2"], "filter": "userId eq \'a\'"}'
    status, _, _ = await call(
        http, emu, "POST", "/:addToGroups", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 200
    assert [m.user_id async for m in service.list_connections(group="g2")] == ["a"]
    status, _, _ = await call(
        http,
        emu,
        "POST",
        "/:removeFromGroups",
        data=b'{"groups": ["g2"]}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 200 and not await service.group_exists("g2")
    assert (
        await call(
            http,
            emu,
            "POST",
            "/:addToGroups",
            data=b"{}",
            headers={"Content-Type": "application/json"},
        )
    )[0] == 400
    assert (
        await call(
            http, emu, "POST", "/:addToGroups", data=body, headers={"Content-Type": "text/plain"}
        )
    )[0] == 415
    await a.close()
    await b.close()


async def test_generate_token_endpoint(service, emu, http) -> None:
    status, _, body = await call(
        http, emu, "POST", "/:generateToken", query="userId=z&role=r1&minutesToExpire=5"
    )
    assert status == 200
    import json

    token = json.loads(body)["token"]
    async with http.ws_connect(
        f"{emu.client_url(HUB)}?access_token={token}", protocols=[JSON]
    ) as ws:
        assert (await recv_json(ws))["userId"] == "z"
    assert (await call(http, emu, "POST", "/:generateToken", query="minutesToExpire=0"))[0] == 400


async def test_error_from_sdk_is_http_response_error(service) -> None:
    with pytest.raises(HttpResponseError):
        await service.send_to_all("x", filter="userId lt 1")
