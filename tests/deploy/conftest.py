"""tests/deploy: the az CLI conformance check runs after every test that runs a script."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "after_scripts: needs the az calls recorded by the script tests; runs after them",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Stable: the marked tests keep their order among themselves, everything else keeps its own.
    items.sort(key=lambda item: item.get_closest_marker("after_scripts") is not None)
