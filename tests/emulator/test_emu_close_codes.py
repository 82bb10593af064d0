"""Reliable-protocol close codes (issue 11, item 10): rules in devstack/emulator/closecodes.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
import threading
from collections.abc import Iterator

import aiohttp
import pytest
from azure.messaging.webpubsubclient import WebPubSubClient as SyncClient
from azure.messaging.webpubsubclient import WebPubSubClientCredential as SyncCredential
from azure.messaging.webpubsubclient.models import (
    CallbackType,
    SendMessageError,
    WebPubSubDataType,
)
from azure.messaging.webpubsubservice import WebPubSubServiceClient as SyncServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
from websocket import WebSocketConnectionClosedException

from devstack.emulator.closecodes import client_close_is_final

from .emu_helpers import HUB, client_url, emulator, handler_hubs, recv_json

RELIABLE = "json.reliable.webpubsub.azure.v1"


@pytest.mark.parametrize(
    ("code", "final"),
    [(1000, True), (0, True), (1005, True), (1001, False), (1002, False), (1011, False),
     (4000, False), (None, False)],
)  # fmt: skip
def test_close_rule_table(code: int | None, final: bool) -> None:
    assert client_close_is_final(code) is final


async def reliable(
    http: aiohttp.ClientSession, service
) -> tuple[aiohttp.ClientWebSocketResponse, dict]:
    ws = await http.ws_connect(await client_url(service, user_id="u"), protocols=[RELIABLE])
    return ws, await recv_json(ws)


async def test_close_1001_keeps_the_connection_recoverable(emu, service, http) -> None:
    ws, connected = await reliable(http, service)
    conn_id = connected["connectionId"]
    await ws.close(code=1001)
    assert await service.connection_exists(conn_id)
    await service.send_to_all("while away", content_type="text/plain")
    token = connected["reconnectionToken"]
    url = (
        f"ws://127.0.0.1:{emu.port}/client/hubs/{HUB}"
        f"?awps_connection_id={conn_id}&awps_reconnection_token={token}"
    )
    async with http.ws_connect(url, protocols=[RELIABLE]) as again:
        msg = await recv_json(again)
        assert (msg["type"], msg["data"]) == ("message", "while away")


def masked_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    data = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + data


@pytest.mark.parametrize("payload", [b"", struct.pack("!H", 1000)], ids=["no-status", "1000"])
async def test_deliberate_close_ends_the_connection_at_once(upstream, payload: bytes) -> None:
    """A close frame without a status code (the JS client's stop()) is as final as 1000."""
    async with (
        emulator(hubs=handler_hubs(upstream.url)) as emu,
        WebPubSubServiceClient.from_connection_string(emu.connection_string, hub=HUB) as service,
    ):
        url = await client_url(service, user_id="js")
        path = url.split(str(emu.port), 1)[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: localhost:{emu.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {RELIABLE}\r\n\r\n"
            ).encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        (connected,) = await upstream.wait_for("connected")
        conn_id = connected.headers["ce-connectionId"]
        writer.write(masked_frame(0x8, payload))
        await writer.drain()
        (event,) = await upstream.wait_for("disconnected")
        assert event.headers["ce-connectionId"] == conn_id
        assert not await service.connection_exists(conn_id)
        writer.close()


@contextlib.contextmanager
def emulator_in_a_thread() -> Iterator[str]:
    """An emulator on its own loop (the sync SDK blocks); yields its connection string."""
    started = threading.Event()
    holder: dict = {}

    async def main() -> None:
        holder["stop"] = asyncio.Event()
        async with emulator() as emu:
            holder["cs"] = emu.connection_string
            started.set()
            await holder["stop"].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield holder["cs"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        loop.close()


def test_python_sdk_recovers_after_a_1001_close() -> None:
    """What the SDK's own live test_recovery does: close with 1001, keep the connection id.

    As there, the client keeps its default reconnect policy (a failed recovery would show up as
    a new connection id) and the message is re-sent until it arrives.
    """
    with emulator_in_a_thread() as cs:
        service = SyncServiceClient.from_connection_string(cs, hub=HUB)
        roles = ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
        cred = SyncCredential(lambda: service.get_client_access_token(roles=roles)["url"])
        client = SyncClient(cred, message_retry_total=2, ack_timeout=5)
        got, connected = threading.Event(), threading.Event()
        client.subscribe(CallbackType.GROUP_MESSAGE, lambda args: got.set())
        client.subscribe(CallbackType.CONNECTED, lambda args: connected.set())
        with client:
            assert connected.wait(10)
            first_id = client._connection_id
            assert first_id
            client.join_group("g")
            # The SDK's test calls sock.close(1001), which also closes the socket under the
            # client's reader thread; that thread then sometimes never notices (a race in the
            # client, not the service). Sending the same 1001 close frame and letting the
            # emulator's close reply end the socket takes the race out.
            client._ws.sock.send_close(1001)
            for _ in range(10):
                # Sent while the socket is still closing: the SDK gives up after its retries.
                with contextlib.suppress(SendMessageError, WebSocketConnectionClosedException):
                    client.send_to_group("g", "after", WebPubSubDataType.TEXT)
                if got.wait(1):
                    break
            assert got.is_set()
            assert client._connection_id == first_id
            assert service.connection_exists(first_id)
