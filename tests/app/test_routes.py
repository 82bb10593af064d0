"""The route contract, read from the FunctionApp registry as the worker indexes it."""

from __future__ import annotations

import inspect
import json

import azure.functions as func
import pytest

CONTRACT = [
    # name, route, methods, auth level
    ("negotiate", "negotiate", {"GET"}, func.AuthLevel.ANONYMOUS),
    ("eventhandler", "eventhandler", {"OPTIONS", "GET", "POST"}, func.AuthLevel.FUNCTION),
    ("index", "index", {"GET", "HEAD"}, func.AuthLevel.ANONYMOUS),
    ("static", "static/{*path}", {"GET", "HEAD"}, func.AuthLevel.ANONYMOUS),
    ("room_messages", "rooms/{room}/messages", {"GET"}, func.AuthLevel.ANONYMOUS),
    ("room_info", "rooms/{room}", {"GET"}, func.AuthLevel.ANONYMOUS),
    ("reports", "reports", {"GET"}, func.AuthLevel.ANONYMOUS),
    # issue 17: your conversations, and the room directory
    ("my_rooms", "me/rooms", {"GET"}, func.AuthLevel.ANONYMOUS),
    ("room_directory", "rooms", {"GET"}, func.AuthLevel.ANONYMOUS),
    # issue 19: whom you block
    ("my_blocks", "me/blocks", {"GET"}, func.AuthLevel.ANONYMOUS),
]


# Functions with other triggers (tests/app/test_presence_sweep.py checks the timer's binding).
OTHER_TRIGGERS = {"presence_sweep": "timerTrigger"}


def test_exactly_the_contracted_functions(app_functions: dict) -> None:
    assert set(app_functions) == {name for name, *_ in CONTRACT} | set(OTHER_TRIGGERS)
    for name, trigger in OTHER_TRIGGERS.items():
        assert app_functions[name].get_trigger().get_binding_name() == trigger


@pytest.mark.parametrize(("name", "route", "methods", "auth"), CONTRACT)
def test_route(app_functions: dict, name: str, route: str, methods: set, auth) -> None:
    trigger = app_functions[name].get_trigger()
    assert trigger.route == route
    assert {str(m.value) for m in trigger.methods} == methods
    assert trigger.auth_level == auth


@pytest.mark.parametrize("name", [c[0] for c in CONTRACT])
def test_worker_load_time_rules(app_functions: dict, name: str) -> None:
    """Parameter names equal binding names; the return annotation is HttpResponse."""
    function = app_functions[name]
    user_function = function.get_user_function()
    signature = inspect.signature(user_function)
    bindings = {json.loads(raw)["name"] for raw in function.get_raw_bindings()}
    assert bindings == {"req", "$return"}
    assert set(signature.parameters) == {"req"}
    assert signature.return_annotation in (func.HttpResponse, "func.HttpResponse")
