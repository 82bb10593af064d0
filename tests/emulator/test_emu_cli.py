"""``python -m devstack.emulator``: banner, health, clean stop, port in use, no secrets in logs."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from devstack.emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CS = "Endpoint=http://localhost:8080;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;"


def test_default_connection_string() -> None:
    assert Emulator(EmulatorConfig()).connection_string == DEFAULT_CS


async def start(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devstack.emulator",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def read_until(proc: asyncio.subprocess.Process, pattern: str, lines: list[str]) -> re.Match:
    async with asyncio.timeout(15):
        while True:
            raw = await proc.stdout.readline()  # type: ignore[union-attr]
            assert raw, "emulator exited early:\n" + "".join(lines)
            line = raw.decode()
            lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match


async def test_cli_runs_serves_and_stops_cleanly() -> None:
    env = {
        "WebPubSub__Hubs__Sample_ChatApp__AnonymousConnectPolicy": "allow",
        "WebPubSub__Hubs__Sample_ChatApp__EventHandlers__0__UrlTemplate": "http://127.0.0.1:9/api/eventhandler",
        "WebPubSub__Hubs__Sample_ChatApp__EventHandlers__0__SystemEvents__0": "connected",
    }
    proc = await start("--port", "0", env=env)
    lines: list[str] = []
    try:
        match = await read_until(
            proc, r"Connection string: (Endpoint=http://localhost:(\d+);\S+)", lines
        )
        cs, port = match.group(1), int(match.group(2))
        assert cs.endswith(";AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;")
        await read_until(proc, r"Health: http://localhost:\d+/api/health", lines)
        assert any(
            f"ws://localhost:{port}/client/hubs/Sample_ChatApp?access_token={{token}}" in line
            for line in lines
        )
        async with aiohttp.ClientSession() as http:
            async with http.head(f"http://127.0.0.1:{port}/api/health") as resp:
                assert resp.status == 200
            svc = WebPubSubServiceClient.from_connection_string(cs, hub="Sample_ChatApp")
            async with svc:
                token = await svc.get_client_access_token(user_id="u")
                async with http.ws_connect(token["url"]) as ws:
                    await svc.send_to_all("hi", content_type="text/plain")
                    assert (await ws.receive(timeout=5)).data == "hi"
                # Anonymous connect allowed by the env setting.
                async with http.ws_connect(
                    f"ws://127.0.0.1:{port}/client/hubs/Sample_ChatApp?id=x"
                ):
                    pass
            await read_until(proc, r"connection \S+ closed", lines)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            rest = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
            code = await proc.wait()
        assert code == 0
        output = "".join(lines) + rest
        assert token["token"] not in output
        assert "access_token=***" in output
        assert output.count("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH") == 1  # only the banner
        assert re.search(r"rest POST /api/hubs/Sample_ChatApp/:send\S* -> 202 \(\d+ ms\)", output)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = await start("--port", str(port))
        async with asyncio.timeout(15):
            out, _ = await proc.communicate()
    assert proc.returncode == 1
    lines = [line for line in out.decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert str(port) in lines[0] and "in use" in lines[0]


async def test_invalid_config_exits_with_message(tmp_path) -> None:
    proc = await start("--access-key", "short")
    async with asyncio.timeout(15):
        out, _ = await proc.communicate()
    assert proc.returncode == 2
    assert "32 bytes" in out.decode()
