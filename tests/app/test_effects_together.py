"""Effects._together: several effects of one step run at once, outcomes in effect order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.effects import Effects
from adapters.instance_memory import RoomBudgets
from adapters.webpubsub import Service
from chat import settings as chat_settings
from chat.plan import Effect, SendToUser
from tests.support.access_keys import HUB, connection_string


class Stepped(Effects):
    """An executor whose effects wait on each other (each named by its user): a step that
    ran them one after another would never finish."""

    def __init__(self) -> None:
        env = {
            "WebPubSubConnectionString": connection_string("http://127.0.0.1:9"),
            "WebPubSubHub": HUB,
        }
        settings = chat_settings.load(env)
        super().__init__(settings, Service(settings), None, RoomBudgets())
        self.started: dict[str, asyncio.Event] = {}
        self.cancelled: list[str] = []

    async def _outcome(self, effect: Effect) -> Any:
        assert isinstance(effect, SendToUser)
        name = effect.user
        self.started.setdefault(name, asyncio.Event()).set()
        try:
            if name == "bug":
                raise KeyError(name)
            for other in ("a", "b", "c"):  # every one waits until all have started
                await self.started.setdefault(other, asyncio.Event()).wait()
            if name == "slow":
                await asyncio.sleep(60)
            return f"{name} done"
        except asyncio.CancelledError:
            self.cancelled.append(name)
            raise


def sends(*users: str) -> tuple[Effect, ...]:
    return tuple(SendToUser(user, {}) for user in users)


async def test_all_at_once_and_in_effect_order() -> None:
    effects = Stepped()
    outcomes = await asyncio.wait_for(effects._run(sends("c", "a", "b")), 5)
    assert outcomes == ("c done", "a done", "b done")


async def test_a_cancelled_step_cancels_every_effect_in_it() -> None:
    effects = Stepped()
    step = asyncio.ensure_future(effects._run(sends("a", "slow", "b", "c")))
    while len(effects.started) < 4 or not all(e.is_set() for e in effects.started.values()):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)  # "a", "b", "c" are done; "slow" sleeps
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    await asyncio.sleep(0)
    assert effects.cancelled == ["slow"]


async def test_a_bug_in_one_is_raised_and_the_others_stop() -> None:
    effects = Stepped()
    with pytest.raises(KeyError):
        await asyncio.wait_for(effects._run(sends("bug", "slow")), 5)
    await asyncio.sleep(0)
    # "slow" was cancelled before it ran: nothing of the step is left running.
    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
    assert "slow" not in effects.started
