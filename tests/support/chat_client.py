"""A plain-WebSocket chat client for tests (e2e, browser set-up): the page's wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

FRAME_TIMEOUT_S = 10.0
Frame = dict[str, Any]


@dataclass
class ChatClient:
    user: str
    ws: aiohttp.ClientWebSocketResponse
    seen: list[Frame] = field(default_factory=list)

    async def say(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send(self, command: dict[str, Any]) -> None:
        """A room command: join, leave, message or typing."""
        await self.ws.send_str(json.dumps(command))

    async def join_room(self, room: str) -> Frame:
        """Join and wait for the room's presence snapshot (sent only to this connection)."""
        await self.send({"type": "join", "room": room})
        return await self.wait_for(lambda f: f.get("type") == "presence" and f["room"] == room)

    async def say_in(self, room: str, text: str) -> None:
        await self.send({"type": "message", "room": room, "message": text})

    async def next_frame(self, timeout: float = FRAME_TIMEOUT_S) -> Frame:
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"{self.user}: expected a text frame, got {message!r}")
        frame = json.loads(message.data)
        self.seen.append(frame)
        return frame

    async def wait_for(
        self, predicate: Callable[[Frame], bool], timeout: float = FRAME_TIMEOUT_S
    ) -> Frame:
        """The first frame (from now on) matching predicate; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.user}: no matching frame; saw {self.seen}")
            try:
                frame = await self.next_frame(remaining)
            except TimeoutError:
                raise AssertionError(f"{self.user}: no matching frame; saw {self.seen}") from None
            if predicate(frame):
                return frame

    async def wait_chat(self, sender: str, text: str) -> Frame:
        return await self.wait_for(
            lambda f: "type" not in f and f.get("from") == sender and f.get("message") == text
        )

    async def wait_notice(self, event: str, user: str, room: str | None = None) -> Frame:
        """The next joined/left notice about `user`, in `room` when given (else in any room)."""
        return await self.wait_for(
            lambda f: (
                f.get("type") == "system"
                and f.get("event") == event
                and f.get("user") == user
                and (room is None or f.get("room") == room)
            )
        )

    async def close(self) -> None:
        await self.ws.close()


async def negotiate(session: aiohttp.ClientSession, host_base_url: str, user: str) -> str:
    async with session.get(f"{host_base_url}/api/negotiate", params={"id": user}) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["url"]


async def connect(session: aiohttp.ClientSession, url: str, user: str) -> ChatClient:
    # A plain WebSocket with no subprotocol, as the chat page opens it.
    ws = await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5), heartbeat=None)
    return ChatClient(user, ws)


async def join(session: aiohttp.ClientSession, host_base_url: str, user: str) -> ChatClient:
    """Negotiate like the page does, then connect with the returned URL."""
    return await connect(session, await negotiate(session, host_base_url, user), user)
