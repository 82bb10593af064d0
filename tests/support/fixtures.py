"""pytest fixtures for the local stack and Azurite (import them from tests/conftest.py).

from tests.support.fixtures import azurite, local_stack, ...  # noqa: F401
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from tests.support.azurite import Azurite, free_port
from tests.support.stack import LocalStack
from tests.support.stack import local_stack as _local_stack


@pytest.fixture
def local_stack() -> Iterator[LocalStack]:
    """A fresh stack per test: safe to kill or restart either side."""
    with _local_stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def shared_local_stack() -> Iterator[LocalStack]:
    """One stack for the session: for tests that only talk to it (use unique user ids)."""
    with _local_stack() as stack:
        yield stack


@pytest.fixture
def stack_factory() -> Iterator[Callable[..., LocalStack]]:
    """Start stacks with options, e.g. stack_factory(extra_host_env={"ChatMaxMessageLength": "5"}).

    Every stack it started is stopped at teardown.
    """
    with contextlib.ExitStack() as cleanup:

        def start(**overrides: object) -> LocalStack:
            return cleanup.enter_context(_local_stack(**overrides))

        yield start


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One throwaway Azurite Table service (in memory) for the session: use unique rooms."""
    with Azurite(free_port()) as service:
        yield service
