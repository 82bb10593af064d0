"""End-to-end tests run against one real local stack (emulator + Functions host) per module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from chat.identity import encode_user_id
from tests.e2e.test_sign_in import Person
from tests.support.stack import LocalStack, local_stack


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with local_stack() as started:
        yield started


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:
        yield client


@pytest.fixture
async def people(stack: LocalStack) -> AsyncIterator:
    """`make(provider, name, provider_id=None)`: a person signed in through the local form
    (with a fresh provider id unless given), and their Web PubSub user id (a module's own
    `stack` decides where: with sign-in)."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(provider: str, name: str, provider_id: str | None = None) -> tuple[Person, str]:
        session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=15)
        )
        sessions.append(session)
        person = Person(session, stack.host_base_url)
        provider_id = provider_id or f"id-{uuid.uuid4().hex[:10]}"
        await person.sign_in(provider, name, provider_id)
        return person, encode_user_id(provider, provider_id, name)

    yield make
    for session in sessions:
        await session.close()
