"""The official client SDK (azure-messaging-webpubsubclient) against the emulator, unchanged."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web
from azure.messaging.webpubsubclient import WebPubSubClient as SyncClient
from azure.messaging.webpubsubclient import WebPubSubClientCredential as SyncCredential
from azure.messaging.webpubsubclient.aio import WebPubSubClient, WebPubSubClientCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    SendMessageError,
    WebPubSubDataType,
    WebPubSubProtocolType,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient as SyncServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from tests.support.waiting import until

from .emu_helpers import HUB, Upstream, emulator, handler_hubs

ROLES = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]


def credential(service: WebPubSubServiceClient, **token_args) -> WebPubSubClientCredential:
    async def url() -> str:
        return (await service.get_client_access_token(**token_args))["url"]

    return WebPubSubClientCredential(url)


def new_client(
    service, protocol=WebPubSubProtocolType.JSON_RELIABLE, **token_args
) -> WebPubSubClient:
    return WebPubSubClient(
        credential(service, **token_args),
        protocol_type=protocol,
        message_retry_total=0,
        reconnect_retry_total=0,
        ack_timeout=5,
        start_timeout=5,
    )


class Inbox:
    def __init__(self) -> None:
        self.items: list = []
        self.changed = asyncio.Event()

    async def add(self, item=None) -> None:
        self.items.append(item)
        self.changed.set()

    async def wait(self, count: int, timeout: float = 5.0) -> list:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.items


async def test_join_send_leave_between_two_sdk_clients(service) -> None:
    a = new_client(service, user_id="a", roles=ROLES)
    b = new_client(service, user_id="b", roles=ROLES)
    inbox_b = Inbox()
    connected = Inbox()
    await b.subscribe(CallbackType.GROUP_MESSAGE, inbox_b.add)
    await a.subscribe(CallbackType.CONNECTED, connected.add)
    async with a, b:
        (args,) = await connected.wait(1)
        assert args.user_id == "a" and args.connection_id
        await a.join_group("room")
        await b.join_group("room")
        await a.send_to_group("room", "hello", WebPubSubDataType.TEXT)
        await a.send_to_group("room", {"n": 1}, WebPubSubDataType.JSON, no_echo=True)
        await a.send_to_group("room", memoryview(b"\x00\x01"), WebPubSubDataType.BINARY)
        items = await inbox_b.wait(3)
        assert [(m.group, m.from_user_id, m.data_type) for m in items] == [
            ("room", "a", "text"),
            ("room", "a", "json"),
            ("room", "a", "binary"),
        ]
        assert items[0].data == "hello" and items[1].data == {"n": 1}
        assert bytes(items[2].data) == b"\x00\x01"
        assert all(m.sequence_id for m in items)  # reliable protocol numbers messages
        await b.join_group("marker")
        await a.join_group("marker")
        await b.leave_group("room")
        await a.send_to_group("room", "after leave", WebPubSubDataType.TEXT)
        # a's frames are handled in order and b's queue is FIFO: had "after leave" reached b,
        # it would arrive before the marker.
        await a.send_to_group("marker", "marker", WebPubSubDataType.TEXT)
        items = await inbox_b.wait(4)
        assert [(m.group, m.data) for m in items[3:]] == [("marker", "marker")]


async def test_forbidden_ack_raises_and_duplicate_is_success(service, upstream: Upstream) -> None:
    del service
    async with emulator(hubs=handler_hubs(upstream.url)) as emu:
        svc = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        async with svc:
            client = new_client(svc, protocol=WebPubSubProtocolType.JSON)
            async with client:
                with pytest.raises(SendMessageError) as info:
                    await client.join_group("secret")
                assert info.value.error_detail.name == "Forbidden"
                with pytest.raises(SendMessageError) as info:
                    await client.send_to_group("secret", "x", WebPubSubDataType.TEXT)
                assert info.value.error_detail.name == "Forbidden"
                await client.send_event("evt", "payload", WebPubSubDataType.TEXT, ack_id=77)
                await client.send_event("evt", "payload", WebPubSubDataType.TEXT, ack_id=77)
    assert len(upstream.events("evt")) == 1
    assert upstream.events("evt")[0].body == b"payload"


async def test_event_reply_arrives_as_server_message(upstream: Upstream) -> None:
    upstream.responders["ask"] = lambda rec: web.json_response({"answer": 42})
    async with emulator(hubs=handler_hubs(upstream.url)) as emu:
        svc = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB)
        async with svc:
            client = new_client(svc)
            inbox = Inbox()
            await client.subscribe(CallbackType.SERVER_MESSAGE, inbox.add)
            async with client:
                await client.send_event("ask", {"q": 1}, WebPubSubDataType.JSON)
                (msg,) = await inbox.wait(1)
                assert msg.data_type == "json" and msg.data == {"answer": 42}
                await svc.send_to_all("from rest", content_type="text/plain")
                assert (await inbox.wait(2))[1].data == "from rest"


async def test_recovery_after_dropped_socket_replays_messages(emu, service) -> None:
    client = new_client(service, user_id="r")
    inbox = Inbox()
    connected = Inbox()
    disconnected = Inbox()
    await client.subscribe(CallbackType.SERVER_MESSAGE, inbox.add)
    await client.subscribe(CallbackType.CONNECTED, connected.add)
    await client.subscribe(CallbackType.DISCONNECTED, disconnected.add)
    async with client:
        (info,) = await connected.wait(1)
        await service.send_to_all("before", content_type="text/plain")
        await inbox.wait(1)
        conn = emu.clients.registry.find(HUB, info.connection_id)
        assert conn is not None and conn.ws is not None
        dropped = conn.ws
        dropped._req.transport.abort()  # drop the TCP connection without a close frame
        # The SDK may recover at once, so wait for "the emulator noticed", not for "detached".
        await until(lambda: conn.ws is not dropped)
        await service.send_to_all("while away", content_type="text/plain")
        items = await inbox.wait(2, timeout=10)
        assert [m.data for m in items] == ["before", "while away"]
        # Same logical connection: no new connected event, same id.
        assert len(connected.items) == 1
        assert await service.connection_exists(info.connection_id)
        assert disconnected.items == []


async def test_close_by_rest_stops_client(emu, service) -> None:
    client = new_client(service, user_id="k")
    stopped = Inbox()
    disconnected = Inbox()
    await client.subscribe(CallbackType.STOPPED, stopped.add)
    await client.subscribe(CallbackType.DISCONNECTED, disconnected.add)
    await client.open()
    try:
        await service.close_user_connections("k", reason="bye")
        (event,) = await disconnected.wait(1)
        assert "Reason: bye" in (event.message or "")
    finally:
        await client.close()


def test_sync_client_in_a_thread(tmp_path) -> None:
    """The synchronous client (websocket-client based) against an emulator on its own loop."""
    started = threading.Event()
    holder: dict = {}
    stop = None

    def run_emulator_thread() -> None:
        nonlocal stop

        async def main() -> None:
            nonlocal stop
            stop = asyncio.Event()
            async with emulator() as emu:
                holder["cs"] = emu.connection_string
                started.set()
                await stop.wait()

        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run_emulator_thread, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        svc = SyncServiceClient.from_connection_string(holder["cs"], hub=HUB)
        cred = SyncCredential(lambda: svc.get_client_access_token(roles=ROLES)["url"])
        client = SyncClient(cred, message_retry_total=0, reconnect_retry_total=0)
        received: list = []
        got = threading.Event()

        def on_group(args) -> None:
            received.append(args.data)
            got.set()

        client.subscribe(CallbackType.GROUP_MESSAGE, on_group)
        with client:
            client.join_group("g")
            client.send_to_group("g", "sync hello", WebPubSubDataType.TEXT)
            assert got.wait(5)
        assert received == ["sync hello"]
    finally:
        holder["loop"].call_soon_threadsafe(stop.set)
        thread.join(10)
