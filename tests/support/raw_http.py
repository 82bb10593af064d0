"""HTTP/1.1 over a raw socket, for what aiohttp's client will not send or hides.

Chunked bodies written by hand, half-sent headers, idle keep-alive connections, and malformed
requests all need bytes on the wire exactly as written, and the server's closing of the
connection observed directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

WAIT_S = 10.0  # generous: a timeout under test is far shorter than this


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


async def connect(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = base_url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    """One response with a Content-Length body (all the host sends)."""
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        response = parse_head(head)
        length = int(response.headers.get("content-length", "0"))
        response.body = await reader.readexactly(length)
    return response


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes; fails if it has not closed within WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        return await reader.read()


def parse_head(head: bytes) -> RawResponse:
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, b"")


def parse_response(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    response = parse_head(head)
    response.body = body
    return response


async def send_raw(base_url: str, raw: bytes) -> RawResponse:
    """Write `raw` exactly as given on a new connection; the answer sent before it closed."""
    reader, writer = await connect(base_url)
    try:
        writer.write(raw)
        return parse_response(await read_until_closed(reader))
    finally:
        writer.close()


def assert_quiet_400(response: RawResponse, records: list[logging.LogRecord], mark: str) -> None:
    """A malformed request's answer: a plain 400 that quotes nothing, and one INFO line in the
    log without the request's bytes (`mark` is in every hostile request) or a traceback."""
    assert response.status == 400
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.body == b"400 Bad Request\n"
    assert not any(mark in r.getMessage() or r.exc_info for r in records)
    assert [r.levelno for r in records if "malformed request" in r.getMessage()] == [logging.INFO]


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunked(*parts: bytes) -> bytes:
    """A chunked body: each part a chunk, then the last-chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


async def dribble_headers(base_url: str, every: float, path: str = "/") -> tuple[bytes, int]:
    """Send a request line, then one header line every `every` s, never finishing the headers.

    Returns what the server sent before closing and how many lines went out before that.
    """
    reader, writer = await connect(base_url)
    closed = asyncio.create_task(read_until_closed(reader))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {base_url.removeprefix('http://')}\r\n".encode())
    sent = 0
    try:
        async with asyncio.timeout(WAIT_S):
            while not closed.done():
                await asyncio.wait({closed}, timeout=every)  # pace the lines, stop on close
                if not closed.done():
                    writer.write(f"X-Line-{sent}: still coming\r\n".encode())
                    sent += 1
        return await closed, sent
    finally:
        writer.close()
