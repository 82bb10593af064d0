"""Admission: a burst of connections waits its turn for system events; nothing is dropped."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator.__main__ import parse_args
from devstack.emulator.eventgates import EventGates

from .emu_helpers import HUB, Recorded, Upstream, client_url, emulator, handler_hubs, recv_json

JSON = "json.webpubsub.azure.v1"


class InFlight:
    """Counts handler calls running at once; `release` lets held calls answer."""

    def __init__(self, hold: bool = False) -> None:
        self.now = 0
        self.most = 0
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, _rec: Recorded) -> web.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(0.05)  # long enough for the others to pile up if allowed
            await self.release.wait()
        finally:
            self.now -= 1
        return web.Response(status=200)


def _connection(rec: Recorded) -> str:
    return rec.headers["ce-connectionId"]


async def test_connect_events_in_flight_are_bounded_and_every_client_is_admitted(
    upstream: Upstream, http
) -> None:
    connects = InFlight()
    upstream.responders["connect"] = connects
    async with emulator(hubs=handler_hubs(upstream.url), max_connect_events=2) as emu:
        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as svc:
            urls = [await client_url(svc, user_id=f"u{i}") for i in range(8)]
        sockets = await asyncio.gather(*(http.ws_connect(u, protocols=[JSON]) for u in urls))
        greetings = [await recv_json(ws) for ws in sockets]
        for ws in sockets:
            await ws.close()
    assert [g["event"] for g in greetings] == ["connected"] * 8  # all waited, none refused
    assert len(upstream.events("connect")) == 8
    assert connects.most == 2


async def test_system_events_wait_in_order_while_user_events_pass(upstream: Upstream, http) -> None:
    held = InFlight(hold=True)
    upstream.responders["connected"] = held
    hubs = handler_hubs(upstream.url)
    async with emulator(hubs=hubs, max_system_events=2) as emu:
        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as svc:
            urls = [await client_url(svc, user_id=f"u{i}") for i in range(5)]
        sockets = [await http.ws_connect(u, protocols=[JSON]) for u in urls]
        ids = [(await recv_json(ws))["connectionId"] for ws in sockets]
        await upstream.wait_for("connected", 2)
        # The gate is full: a user event of an admitted connection does not wait behind it.
        await sockets[0].send_json({"type": "event", "event": "chat", "data": "hi", "ackId": 1})
        assert await recv_json(sockets[0]) == {"type": "ack", "ackId": 1, "success": True}
        # The last connection leaves while its connected event is still waiting.
        await sockets[4].close()
        await asyncio.sleep(0.3)
        assert len(upstream.events("connected")) == 2
        assert held.most == 2
        held.release.set()
        await upstream.wait_for("connected", 5)
        await upstream.wait_for("disconnected", 1)
        for ws in sockets[:4]:
            await ws.close()
        await upstream.wait_for("disconnected", 5)
    assert sorted(_connection(r) for r in upstream.events("connected")) == sorted(ids)
    system = [r for r in upstream.events() if r.event in ("connected", "disconnected")]
    for conn_id in ids:
        order = [r.event for r in system if _connection(r) == conn_id]
        assert order == ["connected", "disconnected"], (conn_id, order)


async def test_a_retry_pause_holds_no_slot(upstream: Upstream, http) -> None:
    def connected(rec: Recorded) -> web.Response:
        return web.Response(status=503 if rec.headers.get("ce-userId") == "down" else 200)

    upstream.responders["connected"] = connected
    hubs = handler_hubs(upstream.url)
    async with emulator(hubs=hubs, max_system_events=1, retry_delays=(0.3, 0.3)) as emu:
        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as svc:
            down = await client_url(svc, user_id="down")
            up = await client_url(svc, user_id="up")
        first = await http.ws_connect(down, protocols=[JSON])
        await recv_json(first)
        await upstream.wait_for("connected", 1)  # the failing one's first attempt
        second = await http.ws_connect(up, protocols=[JSON])
        await recv_json(second)
        await upstream.wait_for("connected", 4)  # three attempts for one, one for the other
        await first.close()
        await second.close()
    users = [r.headers.get("ce-userId") for r in upstream.events("connected")]
    # "up" got its turn while "down" waited to retry, not after all of down's attempts.
    assert users[:4] in (["down", "up", "down", "down"], ["down", "down", "up", "down"])


async def test_zero_is_no_limit(upstream: Upstream, http) -> None:
    connects = InFlight()
    upstream.responders["connect"] = connects
    async with emulator(hubs=handler_hubs(upstream.url), max_connect_events=0) as emu:
        async with WebPubSubServiceClient.from_connection_string(
            emu.connection_string, hub=HUB
        ) as svc:
            urls = [await client_url(svc, user_id=f"u{i}") for i in range(6)]
        sockets = await asyncio.gather(*(http.ws_connect(u, protocols=[JSON]) for u in urls))
        for ws in sockets:
            await recv_json(ws)
            await ws.close()
    assert connects.most == 6


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="admission limit"):
        EventGates(-1, 16)


@pytest.mark.parametrize(
    ("argv", "connect", "system"),
    [
        ([], 8, 8),
        (["--max-connect-events", "64", "--max-system-events", "0"], 64, 0),
    ],
)
def test_flags(argv: list[str], connect: int, system: int) -> None:
    args = parse_args(argv)
    assert (args.max_connect_events, args.max_system_events) == (connect, system)


@pytest.mark.parametrize("value", ["-1", "many", "1.5", "100001"])
def test_bad_flag_values_are_refused(value: str, capsys) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--max-system-events", value])
    assert "expected 0 (no limit) to 100000" in capsys.readouterr().err
