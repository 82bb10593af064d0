"""Load through the full stack: 200 page-style clients each send 20 messages; every client
receives every message exactly once, each sender's messages in order, nothing lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict

import pytest

from tests.support.stack import LocalStack

from .stackclients import Receiver, client_session, close_all, connect_all

log = logging.getLogger(__name__)

CLIENTS = 200
MESSAGES = 20
pytestmark = pytest.mark.stack


async def test_200_clients_20_messages_each_exactly_once_in_order() -> None:
    # Each client sends its 20 messages at once; the default 20-per-10-s flood limit would
    # allow exactly that, but the test is about delivery, not the limit.
    stack = LocalStack(extra_host_env={"ChatRateLimitMessages": "1000"})
    await asyncio.to_thread(stack.start)
    try:
        async with client_session() as session:
            users = [f"load{i:03d}" for i in range(CLIENTS)]
            receivers = await connect_all(session, stack.client_url, users)
            total = CLIENTS * MESSAGES
            for r in receivers:
                r.start(want=total)
            started = time.monotonic()
            for k in range(MESSAGES):
                await asyncio.gather(*(r.ws.send_str(f"{r.user} #{k:02d}") for r in receivers))
            try:
                await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in receivers)), 240)
            except TimeoutError:
                pytest.fail(_progress(receivers, total))
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now
            await close_all(receivers)
    finally:
        await asyncio.to_thread(stack.stop)

    log.info("%d deliveries in %.1f s", total * CLIENTS, elapsed)
    expected = {f"{u} #{k:02d}" for u in users for k in range(MESSAGES)}
    for r in receivers:
        assert not r.rejections, r.rejections[:3]
        texts = [c["message"] for c in r.chats]
        assert len(texts) == total, f"{r.user}: {len(texts)} chats"
        duplicates = [t for t, n in Counter(texts).items() if n > 1]
        assert not duplicates, f"{r.user} got duplicates {duplicates[:5]}"
        assert len({c["id"] for c in r.chats}) == total
        assert set(texts) == expected
        by_sender: dict[str, list[str]] = defaultdict(list)
        for c in r.chats:
            assert c["message"].startswith(c["from"] + " #")
            by_sender[c["from"]].append(c["message"])
        for sender, seen in by_sender.items():
            assert seen == sorted(seen), f"{r.user} saw {sender} out of order"


def _progress(receivers: list[Receiver], total: int) -> str:
    """What arrived before the deadline: enough to tell slow delivery from lost or refused."""
    counts = sorted(len(r.chats) for r in receivers)
    reasons = sorted({r["message"] for x in receivers for r in x.rejections})
    return (
        f"not every client got all {total} messages in time: received min {counts[0]},"
        f" median {counts[len(counts) // 2]}, max {counts[-1]};"
        f" refusals {sum(len(r.rejections) for r in receivers)} {reasons[:3]}"
    )
