"""Chat clients for the reliability suite: many plain (page-style) or JSON-subprotocol
WebSockets in one process, each recording every chat frame it receives."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

JSON_PROTOCOL = "json.webpubsub.azure.v1"


@dataclass
class Receiver:
    """One connected user; a background task files every frame as it arrives."""

    user: str
    ws: aiohttp.ClientWebSocketResponse
    chats: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    acks: dict[int, dict[str, Any]] = field(default_factory=dict)
    want: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    ack_arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    def start(self, want: int) -> None:
        self.want = want
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame.get("type") == "message":  # JSON subprotocol: the broadcast is in data
                data = frame["data"]
                frame = json.loads(data) if isinstance(data, str) else data
            elif frame.get("type") == "ack":
                async with self.ack_arrived:
                    self.acks[frame["ackId"]] = frame
                    self.ack_arrived.notify_all()
                continue
            if "type" not in frame:
                self.chats.append(frame)
                if len(self.chats) >= self.want:
                    self.done.set()
            elif frame.get("event") == "rejected":
                self.rejections.append(frame)

    async def wait_ack(self, ack_id: int, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout), self.ack_arrived:
            await self.ack_arrived.wait_for(lambda: ack_id in self.acks)
        return self.acks[ack_id]

    async def send_event(self, ack_id: int, text: str) -> None:
        await self.ws.send_str(
            json.dumps(
                {
                    "type": "event",
                    "event": "message",
                    "dataType": "text",
                    "data": text,
                    "ackId": ack_id,
                }
            )
        )

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.ws.close()


def client_session() -> aiohttp.ClientSession:
    """No pool limit: every WebSocket holds one of the pool's connections for its lifetime
    (the default limit of 100 would stall the 101st connect)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
    )


async def connect_all(
    session: aiohttp.ClientSession,
    client_url: str,
    users: Iterable[str],
    *,
    protocol: str | None = None,
    batch: int = 25,
) -> list[Receiver]:
    """Connect with lazy auth (?id=<user>), a batch at a time so connect events do not pile up."""
    users = list(users)
    receivers: list[Receiver] = []
    for start in range(0, len(users), batch):
        sockets = await asyncio.gather(
            *(
                session.ws_connect(
                    f"{client_url}?id={quote(user)}",
                    protocols=(protocol,) if protocol else (),
                    heartbeat=None,
                    max_msg_size=0,
                )
                for user in users[start : start + batch]
            )
        )
        receivers += [Receiver(u, ws) for u, ws in zip(users[start:], sockets, strict=False)]
    return receivers


async def close_all(receivers: Iterable[Receiver]) -> None:
    await asyncio.gather(*(r.close() for r in receivers), return_exceptions=True)
