"""The app's own cost per call, in process: each webhook event and negotiate, side by side
with the bare SDK call it wraps (send_to_all to the same local sink; get_client_access_token).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from bench import sink
from bench.report import median, table

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
HUB = "Sample_ChatApp"
PAYLOAD = {
    "id": "0123456789abcdef01234567",
    "from": "alice",
    "message": "hello there",
    "time": "2026-11-28T12:00:00.000Z",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _event(ce_type: str, ce_id: int, body: bytes = b"", content_type: str = "") -> func.HttpRequest:
    from chat import signature

    headers = {
        "WebHook-Request-Origin": "127.0.0.1",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": ce_type,
        "ce-id": str(ce_id),
        "ce-hub": HUB.lower(),
        "ce-connectionId": "bench-conn",
        "ce-eventName": ce_type.rsplit(".", 1)[-1],
        "ce-userId": "alice",
        "ce-signature": signature.header([KEY], "bench-conn"),
    }
    if content_type:
        headers["Content-Type"] = content_type
    return func.HttpRequest("POST", "http://localhost/api/eventhandler", headers=headers, body=body)


async def _time_each(call: Callable[[int], Awaitable[Any]], count: int, start: int) -> list[float]:
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        await call(start + i)
        samples.append(time.perf_counter() - t0)
    return samples


async def _compare(
    app: Callable[[int], Awaitable[Any]],
    bare: Callable[[int], Awaitable[Any]] | None,
    rounds: int,
    block: int,
) -> dict[str, float]:
    """Alternate blocks of app and bare calls so machine noise lands on both alike."""
    app_samples: list[float] = []
    bare_samples: list[float] = []
    await app(0)  # warm both: connection pools, lazy imports
    if bare:
        await bare(0)
    for r in range(rounds):
        app_samples += await _time_each(app, block, 1 + r * block)
        if bare:
            bare_samples += await _time_each(bare, block, 1 + r * block)
    result = {"app_us": median(app_samples) * 1e6, "calls": len(app_samples)}
    if bare:
        result["bare_us"] = median(bare_samples) * 1e6
        result["ratio"] = result["app_us"] / result["bare_us"]
    return result


async def _measure(endpoint: str, rounds: int, block: int) -> dict[str, Any]:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    import function_app

    connection = f"Endpoint={endpoint};AccessKey={KEY};Version=1.0;"
    os.environ["WebPubSubConnectionString"] = connection
    os.environ["WebPubSubHub"] = HUB
    # The benchmark sends thousands of messages from one connection: lift the flood limit.
    os.environ["ChatRateLimitMessages"] = "10000"
    function_app.runtime.reset()
    bare_client = WebPubSubServiceClient.from_connection_string(connection, hub=HUB)

    async def bare_send(_: int) -> None:
        await bare_client.send_to_all(PAYLOAD, content_type="application/json")

    async def bare_token_response(_: int) -> None:
        # The least any negotiate function does: the token, plus the response the worker needs.
        token = await bare_client.get_client_access_token(user_id="alice", minutes_to_expire=60)
        func.HttpResponse(json.dumps({"url": token["url"]}), mimetype="application/json")

    async def bare_token(_: int) -> None:
        await bare_client.get_client_access_token(user_id="alice", minutes_to_expire=60)

    def webhook(kind: str, body: bytes = b"", content_type: str = ""):
        # Requests are built beforehand: the worker builds them, not the app.
        if kind == "OPTIONS":
            options = func.HttpRequest(
                "OPTIONS",
                "http://localhost/api/eventhandler",
                headers={"WebHook-Request-Origin": "127.0.0.1"},
                body=b"",
            )
            requests = [options] * (rounds * block + 1)
        else:
            requests = [_event(kind, i, body, content_type) for i in range(rounds * block + 1)]

        async def call(i: int) -> None:
            response = await function_app.eventhandler(requests[i])
            assert response.status_code < 300, response.get_body()

        return call

    negotiate_request = func.HttpRequest(
        "GET", "http://localhost/api/negotiate", params={"id": "alice"}, body=b""
    )

    async def negotiate(_: int) -> None:
        response = await function_app.negotiate(negotiate_request)
        assert response.status_code == 200

    def sys_event(name: str) -> str:
        return f"azure.webpubsub.sys.{name}"

    connect_body = b'{"claims":{},"query":{},"headers":{},"subprotocols":[]}'
    bare_send_all = (bare_send, "send_to_all")
    cases = {
        "OPTIONS (abuse protection)": (webhook("OPTIONS"), None),
        "connect": (webhook(sys_event("connect"), connect_body, "application/json"), None),
        "connected (broadcasts a notice)": (
            webhook(sys_event("connected"), b"{}", "application/json"),
            bare_send_all,
        ),
        "message (broadcasts it)": (
            webhook("azure.webpubsub.user.message", b"hello there", "text/plain"),
            bare_send_all,
        ),
        "negotiate": (negotiate, (bare_token, "get_client_access_token")),
        "negotiate, same floor plus the HttpResponse every function returns": (
            negotiate,
            (bare_token_response, "get_client_access_token + func.HttpResponse"),
        ),
    }
    results = {}
    for name, (app_call, bare) in cases.items():
        results[name] = await _compare(app_call, bare[0] if bare else None, rounds, block)
        if bare:
            results[name]["bare"] = bare[1]
    await bare_client.close()
    await function_app.runtime.service().close()
    return results


def run(quick: bool) -> tuple[dict[str, Any], list[str]]:
    rounds, block = (4, 100) if quick else (10, 300)
    with sink.running(_free_port()) as endpoint:
        results = asyncio.run(_measure(endpoint, rounds, block))
    targets = {"message (broadcasts it)": "<= 1.1", "negotiate": "<= 1.1"}
    rows = [
        [
            name,
            r.get("bare", "-"),
            r["app_us"],
            r.get("bare_us", "-"),
            f"{r['ratio']:.2f}" if "ratio" in r else "-",
            targets.get(name, "-"),
        ]
        for name, r in results.items()
    ]
    return results, [
        table(
            "Per-call cost in process (median us; broadcasts go to a local HTTP sink)",
            ["call", "bare SDK floor", "app us", "floor us", "ratio", "target"],
            rows,
        )
    ]
