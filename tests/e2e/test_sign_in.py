"""Sign-in mode through the real stack (`python -m devstack --sign-in` wiring): the host's
emulated App Service Authentication, the app's ChatSignIn=required, the emulator's WebSockets."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from tests.support.chat_client import ChatClient, connect
from tests.support.stack import LocalStack, local_stack

pytestmark = pytest.mark.stack

LONG_EMAIL_DOMAIN = "@subdivision.contoso.example"


@pytest.fixture(scope="module")
def signed_in_stack() -> Iterator[LocalStack]:
    with local_stack(sign_in=True) as started:
        yield started


@dataclass
class Person:
    session: aiohttp.ClientSession
    base_url: str

    async def sign_in(self, provider: str, name: str, user_id: str = "") -> None:
        """Open the local sign-in form, then submit it (with its nonce) as a browser would."""
        async with self.session.get(f"{self.base_url}/.auth/login/{provider}") as response:
            assert response.status == 200
            nonce = re.search(r'name="nonce" value="([^"]+)"', await response.text())
        assert nonce
        async with self.session.post(
            f"{self.base_url}/.auth/login/{provider}/callback",
            data={
                "name": name,
                "id": user_id,
                "post_login_redirect_uri": "/api/index",
                "nonce": nonce.group(1),
            },
            allow_redirects=False,
        ) as response:
            assert response.status == 302, await response.text()
            assert response.headers["Location"] == "/api/index"

    async def negotiate(self, **kwargs) -> tuple[int, str]:
        async with self.session.get(f"{self.base_url}/api/negotiate", **kwargs) as response:
            if response.status != 200:
                return response.status, await response.text()
            return 200, (await response.json())["url"]

    async def join(self, label: str) -> ChatClient:
        status, url = await self.negotiate()
        assert status == 200, url
        return await connect(self.session, url, label)

    async def sign_out(self) -> None:
        async with self.session.get(
            f"{self.base_url}/.auth/logout?post_logout_redirect_uri=/api/index",
            allow_redirects=False,
        ) as response:
            assert response.status == 302


@pytest.fixture
async def people(signed_in_stack: LocalStack) -> AsyncIterator:
    sessions: list[aiohttp.ClientSession] = []

    def make() -> Person:
        # A cookie jar per person, keeping cookies for 127.0.0.1 as a browser does.
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=15)
        )
        sessions.append(session)
        return Person(session, signed_in_stack.host_base_url)

    yield make
    for session in sessions:
        await session.close()


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def test_two_signed_in_people_chat_and_see_each_others_names(people) -> None:
    alice_name = f"alice.{_tag()}.with.a.rather.long.mailbox.name.for.tests{LONG_EMAIL_DOMAIN}"
    assert len(alice_name) > 64  # longer than a chosen name may be
    bob_name = f"bob-{_tag()}"
    alice, bob = people(), people()
    await alice.sign_in("aad", alice_name)
    await bob.sign_in("github", bob_name)
    alice_ws = await alice.join("alice")
    joined = await alice_ws.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"{alice_name} joined"
    )
    alice_id = joined["userId"]
    assert alice_id.startswith("aad:") and alice_id.endswith(f":{alice_name}")
    assert joined["idp"] == "aad"
    bob_ws = await bob.join("bob")
    bob_joined = await alice_ws.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"{bob_name} joined"
    )
    assert bob_joined["idp"] == "github"

    await alice_ws.say("hello bob")
    for client in (alice_ws, bob_ws):
        frame = await client.wait_chat(alice_name, "hello bob")
        assert (frame["userId"], frame["idp"]) == (alice_id, "aad")
    await bob_ws.say("hi alice")
    frame = await alice_ws.wait_chat(bob_name, "hi alice")
    assert frame["userId"] == bob_joined["userId"]
    await alice_ws.close()
    await bob_ws.close()


async def test_signing_out_ends_access(people) -> None:
    carol = people()
    await carol.sign_in("aad", f"carol-{_tag()}@contoso.com")
    assert (await carol.negotiate())[0] == 200
    await carol.sign_out()
    status, reason = await carol.negotiate(params={"id": "carol"})
    assert status == 401
    assert "sign-in required" in reason


async def test_forged_principal_headers_from_outside_change_nothing(people) -> None:
    forged = {
        "X-MS-CLIENT-PRINCIPAL-NAME": "admin@contoso.com",
        "X-MS-CLIENT-PRINCIPAL-ID": "00000000-0000-0000-0000-000000000000",
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
    stranger = people()
    status, _ = await stranger.negotiate(headers=forged, params={"id": "admin"})
    assert status == 401

    dave_name = f"dave-{_tag()}"
    dave = people()
    await dave.sign_in("github", dave_name)
    status, url = await dave.negotiate(headers=forged)
    assert status == 200
    client = await connect(dave.session, url, "dave")
    joined = await client.wait_for(
        lambda f: f.get("event") == "joined" and "userId" in f and dave_name in f["userId"]
    )
    assert joined["message"] == f"{dave_name} joined"
    assert joined["user"] == joined["userId"]  # members are keyed by the id
    assert joined["userId"].startswith("github:")
    await client.close()


async def test_the_same_name_through_two_providers_is_two_people(people) -> None:
    name = f"erin-{_tag()}"
    via_microsoft, via_github = people(), people()
    await via_microsoft.sign_in("aad", name)
    await via_github.sign_in("github", name)
    first = await via_microsoft.join("erin (Microsoft)")
    mine = await first.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"{name} joined"
    )
    second = await via_github.join("erin (GitHub)")
    theirs = await first.wait_for(
        lambda f: (
            f.get("event") == "joined"
            and f.get("message") == f"{name} joined"
            and f["userId"] != mine["userId"]
        )
    )
    assert (mine["idp"], theirs["idp"]) == ("aad", "github")

    await second.say("from github")
    frame = await first.wait_chat(name, "from github")
    assert frame["userId"] == theirs["userId"] != mine["userId"]
    await first.close()
    await second.close()


async def test_lazy_auth_is_refused(signed_in_stack: LocalStack, people) -> None:
    mallory = people()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await mallory.session.ws_connect(f"{signed_in_stack.client_url}?id=mallory")
    assert refused.value.status == 401


async def test_the_page_offers_the_providers(signed_in_stack: LocalStack, people) -> None:
    async with people().session.get(signed_in_stack.chat_url) as response:
        assert response.status == 200
        assert '<meta name="chat-sign-in" content="aad github">' in await response.text()


async def test_the_longest_signed_in_user_id_connects_and_chats(people) -> None:
    """Issue 15 item 7: a 256-character name and a 128-character id, every character escaped
    in the user id (1,186 characters), used to make the per-user group name too long for
    the service and the connect failed with 500."""
    name, provider_id = ":" * 256, ":" * 128
    longest = people()
    await longest.sign_in("github", name, provider_id)
    client = await longest.join("longest")
    joined = await client.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"{name} joined"
    )
    assert joined["userId"] == "github:" + "%3A" * 128 + ":" + "%3A" * 256
    await client.say("still here")
    frame = await client.wait_chat(name, "still here")
    assert frame["userId"] == joined["userId"]
    await client.close()


async def test_a_look_alike_provider_name_is_cleaned_and_marked(people) -> None:
    """Issue 15 item 6: a provider's name cannot be refused at sign-in; invisible characters
    and stacked marks beyond the limit are dropped, and a look-alike name is marked."""
    tag = _tag()
    spoof, tower = people(), people()
    await spoof.sign_in("github", f"\u0430lice{tag}\u3164")  # Cyrillic U+0430, a Hangul filler
    await tower.sign_in("github", f"e{tag}x" + "\u0301" * 40)  # x has no precomposed accented form
    spoof_ws = await spoof.join("spoof")
    marked = await spoof_ws.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"\u0430lice{tag} joined"
    )
    assert marked["lookalike"] is True and marked["idp"] == "github"
    await spoof_ws.say("hi")
    frame = await spoof_ws.wait_chat(f"\u0430lice{tag}", "hi")
    assert frame["lookalike"] is True
    tower_ws = await tower.join("tower")
    capped = f"e{tag}x" + "\u0301" * 3
    plain = await tower_ws.wait_for(
        lambda f: f.get("event") == "joined" and f.get("message") == f"{capped} joined"
    )
    assert "lookalike" not in plain
    await spoof_ws.close()
    await tower_ws.close()
