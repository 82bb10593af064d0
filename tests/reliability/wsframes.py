"""Hand-built WebSocket traffic for tests that must send what no well-behaved client library
would: unmasked frames, reserved bits, bad opcodes, lying lengths, garbage before the upgrade."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

CLOSE = 0x8


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    declared_length: int | None = None,
) -> bytes:
    """One RFC 6455 frame; declared_length lets the header lie about the payload size."""
    length = len(payload) if declared_length is None else declared_length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def upgrade(
    port: int, path: str, protocol: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a WebSocket by hand; returns the streams after a 101 (AssertionError otherwise)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def close_code(reader: asyncio.StreamReader, timeout: float = 5.0) -> int | None:
    """Read server frames until a close frame (its code) or EOF (None)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                first, second = await reader.readexactly(2)
            except asyncio.IncompleteReadError:
                return None
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await reader.readexactly(8))
            payload = await reader.readexactly(length)
            if first & 0x0F == CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
