"""The tests/support fixtures that other areas import from tests/conftest.py."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from tests.support.fixtures import local_stack, stack_factory  # noqa: F401 - fixtures
from tests.support.stack import LocalStack

pytestmark = pytest.mark.stack


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def test_local_stack_fixture(local_stack: LocalStack) -> None:  # noqa: F811
    assert local_stack.is_running("emulator") and local_stack.is_running("host")
    url = get_json(f"{local_stack.host_base_url}/api/negotiate?id=zoe")["url"]
    assert url.startswith(local_stack.options.client_url + "?access_token=")
    assert local_stack.connection_string.startswith(f"Endpoint={local_stack.emulator_endpoint};")


def test_stack_factory_passes_settings(stack_factory: Callable[..., LocalStack]) -> None:  # noqa: F811
    stack = stack_factory(hub="OtherHub", extra_host_env={"ChatTokenLifetimeMinutes": "5"})
    url = get_json(f"{stack.host_base_url}/api/negotiate?id=zoe")["url"]
    assert "/client/hubs/OtherHub?access_token=" in url
