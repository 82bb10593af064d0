"""Many lightweight WebSocket clients in one process, for load that the client side can afford.

A benchmark with 1,000 receivers on a 2-core machine must spend as little as possible on the
receiving side, or it measures its own clients. So each client is a bare asyncio.Protocol: the
upgrade handshake, then server frames (unmasked, per RFC 6455) are cut from the byte stream and
handed to a callback, with no per-frame task, future or object beyond the payload bytes.
Frames these clients send are masked as the RFC requires of clients.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

OnFrame = Callable[["Client", bytes], None]
TEXT, CLOSE, PING = 0x1, 0x8, 0x9


class HandshakeError(ConnectionError):
    """The server did not switch protocols; the status line says why."""


class Client(asyncio.Protocol):
    def __init__(self, on_frame: OnFrame | None, tag: object = None) -> None:
        self.on_frame = on_frame
        self.tag = tag
        self.frames = 0
        self.bytes = 0
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._handshake = True

    # ---- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        if self.on_frame is None and not self._handshake:
            return  # counting bytes only (idle or fan-out clients)
        self._buffer += data
        if self._handshake:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            self.bytes = len(self._buffer)
            self._handshake = False
            if head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_result(None)
            else:
                self.upgraded.set_exception(HandshakeError(head.split(b"\r\n", 1)[0].decode()))
                return
            if self.on_frame is None:
                self._buffer.clear()
                return
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # ---- frames -------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buffer
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            length = buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                start = pos + 10
            if size - start < length:
                break
            payload = bytes(buf[start : start + length])
            pos = start + length
            self.frames += 1
            if opcode == TEXT or opcode == 0x2:
                if self.on_frame is not None:
                    self.on_frame(self, payload)
            elif opcode == PING:
                self.send(payload, opcode=0xA)
            elif opcode == CLOSE and self.transport is not None:
                self.transport.close()
        del buf[:pos]

    def send(self, payload: bytes, opcode: int = TEXT) -> None:
        assert self.transport is not None
        self.transport.write(encode_frame(payload, opcode))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()


def encode_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """A masked client frame."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    key = os.urandom(4)
    mask = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(length, "big")
    return head + key + masked


async def connect(url: str, on_frame: OnFrame | None = None, tag: object = None) -> Client:
    """Open ws://host:port/path?query and complete the upgrade."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: Client(on_frame, tag), parts.hostname or "127.0.0.1", parts.port or 80
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert client.transport is not None
    client.transport.write(request.encode())
    await asyncio.wait_for(client.upgraded, 30)
    return client


async def connect_many(
    urls: list[str], on_frame: OnFrame | None = None, batch: int = 100
) -> list[Client]:
    """Connect in batches (the server's listen backlog is finite); tag = index in urls."""
    clients: list[Client] = []
    for start in range(0, len(urls), batch):
        clients += await asyncio.gather(
            *(connect(u, on_frame, start + i) for i, u in enumerate(urls[start : start + batch]))
        )
    return clients


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit (children inherit it); returns it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
