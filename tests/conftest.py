"""Shared fixtures for every test area."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def app_functions() -> dict:
    """function_app's functions by name. FunctionApp.get_functions() may run only once."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


# The local stack (emulator + Functions host as `make run` wires them), for every area.
from tests.support.fixtures import (  # noqa: E402, F401
    azurite,
    local_stack,
    shared_local_stack,
    stack_factory,
)
