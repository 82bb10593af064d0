"""Two people chat through the real stack: negotiate, plain WebSockets, signed upstream events."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import uuid

import aiohttp
import pytest

from tests.support.chat_client import connect, join
from tests.support.stack import LocalStack

pytestmark = pytest.mark.stack


def _user(name: str) -> str:
    # Unique per test so notices from other tests on the shared stack cannot match.
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_two_users_chat_and_see_join_and_leave(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    alice_id, bob_id = _user("alice"), _user("bob")
    alice = await join(session, stack.host_base_url, alice_id)
    await alice.wait_notice("joined", alice_id)
    bob = await join(session, stack.host_base_url, bob_id)
    notice = await alice.wait_notice("joined", bob_id)
    assert notice["message"] == f"{bob_id} joined"
    await bob.wait_notice("joined", bob_id)

    await alice.say("hello bob")
    for client in (alice, bob):
        frame = await client.wait_chat(alice_id, "hello bob")
        assert set(frame) == {"id", "room", "from", "message", "time"}
        assert frame["room"] == "lobby"
    await bob.say("hi alice ✓")
    from_bob = await alice.wait_chat(bob_id, "hi alice ✓")
    assert from_bob["time"].endswith("Z") or from_bob["time"].endswith("+00:00")

    await bob.close()
    left = await alice.wait_notice("left", bob_id)
    assert left["message"] == f"{bob_id} left"
    await alice.close()
    # The emulator's upstream calls passed the app's origin and signature checks throughout.
    assert "Refused an upstream call" not in stack.log("host")


async def test_empty_message_is_rejected_to_the_sender_only(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    dave_id = _user("dave")
    dave = await join(session, stack.host_base_url, dave_id)
    await dave.wait_notice("joined", dave_id)
    await dave.say("   ")
    rejected = await dave.wait_for(lambda f: f.get("event") == "rejected")
    assert rejected["type"] == "system" and rejected["message"]
    await dave.close()


async def test_lazy_auth_direct_connect_without_token(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    carol_id, erin_id = _user("carol"), _user("erin")
    erin = await join(session, stack.host_base_url, erin_id)
    await erin.wait_notice("joined", erin_id)
    # No negotiate, no token: straight to the service with ?id=, as the page's ?connect=direct.
    carol = await connect(session, f"{stack.client_url}?id={carol_id}", carol_id)
    await erin.wait_notice("joined", carol_id)
    await carol.say("straight in")
    await erin.wait_chat(carol_id, "straight in")
    await carol.wait_chat(carol_id, "straight in")
    await carol.close()
    await erin.wait_notice("left", carol_id)
    await erin.close()


def _signature(key: str, connection_id: str) -> str:
    return "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


def _event_headers(stack: LocalStack, connection_id: str, user: str) -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": "azure.webpubsub.user.message",
        "ce-source": f"/hubs/{stack.hub}/client/{connection_id}",
        "ce-id": "1",
        "ce-time": "2024-01-01T00:00:00Z",
        "ce-hub": stack.hub.lower(),
        "ce-connectionId": connection_id,
        "ce-eventName": "message",
        "ce-userId": user,
        "ce-signature": _signature(stack.access_key, connection_id),
        "WebHook-Request-Origin": "localhost",
    }


async def test_forged_webhook_calls_are_refused_and_broadcast_nothing(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    frank_id = _user("frank")
    frank = await join(session, stack.host_base_url, frank_id)
    await frank.wait_notice("joined", frank_id)
    url = f"{stack.host_base_url}/api/eventhandler"

    async def post(headers: dict[str, str], body: str) -> int:
        async with session.post(url, headers=headers, data=body.encode()) as response:
            await response.read()
            return response.status

    bad_signature = _event_headers(stack, "forged-conn-1", "mallory")
    bad_signature["ce-signature"] = _signature(
        "not-the-access-key-not-the-access-key", "forged-conn-1"
    )
    assert await post(bad_signature, "forged: bad signature") == 401
    no_signature = _event_headers(stack, "forged-conn-2", "mallory")
    del no_signature["ce-signature"]
    assert await post(no_signature, "forged: no signature") == 401
    foreign = _event_headers(stack, "forged-conn-3", "mallory")  # correctly signed, wrong origin
    foreign["WebHook-Request-Origin"] = "evil.webpubsub.azure.com"
    assert await post(foreign, "forged: foreign origin") == 401

    # Had any forged call been broadcast, frank would get it before his own later message.
    await frank.say("after the forgeries")
    first_chat = await frank.wait_for(lambda f: "from" in f)
    assert first_chat["message"] == "after the forgeries", frank.seen
    assert not any("forged" in str(f.get("message")) for f in frank.seen)

    # Control: the same call, properly signed from the right origin, is accepted and broadcast,
    # so the refusals above are down to the signature and the origin alone.
    genuine = _event_headers(stack, "genuine-conn", "mallory")
    assert 200 <= await post(genuine, "signed and from localhost") < 300
    await frank.wait_chat("mallory", "signed and from localhost")
    await frank.close()


async def test_a_user_past_the_connection_cap_is_refused_at_connect(
    stack: LocalStack, session: aiohttp.ClientSession
) -> None:
    """Issue 15 item 8: ChatMaxConnectionsPerUser (default 10), counted by the emulator."""
    from tests.support.chat_client import negotiate

    frank_id = _user("frank")
    tabs = []
    for _ in range(10):
        tab = await join(session, stack.host_base_url, frank_id)
        # Its own member list: the connection is in its lobby groups, so the next connect
        # counts it (the count is the service's, taken at connect).
        await tab.wait_for(lambda f: f.get("type") == "presence")
        tabs.append(tab)
    url = await negotiate(session, stack.host_base_url, frank_id)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(url)
    assert refused.value.status == 403
    # Another user is not affected; a closed tab frees a place.
    other = await join(session, stack.host_base_url, _user("grace"))
    await other.close()
    await tabs.pop().close()
    url = await negotiate(session, stack.host_base_url, frank_id)
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # until the service has dropped the closed tab from its groups
        try:
            again = await session.ws_connect(url)
        except aiohttp.WSServerHandshakeError as error:
            assert error.status == 403
            assert asyncio.get_running_loop().time() < deadline, "the closed tab kept its place"
            await asyncio.sleep(0.1)
            continue
        await again.close()
        break
    for tab in tabs:
        await tab.close()
