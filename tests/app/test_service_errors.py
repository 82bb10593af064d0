"""adapters/webpubsub.py maps the SDK's failures, and only those, to ServiceUnavailable."""

from __future__ import annotations

import asyncio
import socket

import pytest

from adapters.webpubsub import Service, ServiceUnavailable
from chat import settings as chat_settings
from tests.app.conftest import RecordingService
from tests.support.access_keys import HUB, connection_string


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service(endpoint: str) -> Service:
    env = {"WebPubSubConnectionString": connection_string(endpoint), "WebPubSubHub": HUB}
    return Service(chat_settings.load(env))


async def test_an_unreachable_service_is_503_with_the_cause_named() -> None:
    service = _service(f"http://127.0.0.1:{_closed_port()}")
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await service.send_to_user("bob", {"message": "hi"}, filter="x eq 'y'")
    finally:
        await service.close()
    assert raised.value.status == 503
    assert raised.value.reason.startswith("service unreachable (")
    assert raised.value.__cause__ is not None  # the SDK's error, for the log


async def test_a_refusal_by_the_service_is_502(app: RecordingService) -> None:
    app.status = 500
    service = _service(app.endpoint)
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            await service.send_to_group("r.dev", {"message": "hi"})
    finally:
        await service.close()
    assert (raised.value.status, raised.value.reason) == (502, "service answered 500")


async def test_other_errors_and_cancellation_pass_through_unchanged() -> None:
    service = _service(f"http://127.0.0.1:{_closed_port()}")

    class Broken:
        async def send_to_user(self, *args: object, **kwargs: object) -> None:
            raise KeyError("a bug, not the service")

    class Cancelled:
        async def send_to_user(self, *args: object, **kwargs: object) -> None:
            raise asyncio.CancelledError

    service.client = Broken  # type: ignore[assignment,method-assign]
    with pytest.raises(KeyError):
        await service.send_to_user("bob", {})
    service.client = Cancelled  # type: ignore[assignment,method-assign]
    with pytest.raises(asyncio.CancelledError):
        await service.send_to_user("bob", {})
