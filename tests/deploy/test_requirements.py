"""requirements.txt (what Azure installs), requirements-dev.txt and the lock the Makefile installs.

The lock is generated (`make lock`), so these checks catch the two ways it goes wrong by hand:
an input edited without re-locking, and a dependency nobody uses any more.
"""

from __future__ import annotations

import re
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .tools import REPO

RUNTIME = REPO / "requirements.txt"
DEV = REPO / "requirements-dev.txt"
LOCK = REPO / "requirements-dev.lock"
# Used without an import statement in the repository: pytest plugins enabled by pyproject.toml
# settings, and tools run as commands.
NOT_IMPORTED = {
    "pytest-asyncio": "asyncio_mode in pyproject.toml",
    "pytest-timeout": "timeout in pyproject.toml",
    "ruff": "run as `python -m ruff` by the Makefile",
    "mypy": "run as `python -m mypy` by `make lint` (configured in pyproject.toml)",
}


def requirements(path: Path) -> list[Requirement]:
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_runtime_dependencies_are_pinned_exactly() -> None:
    """Azure's remote build installs requirements.txt: no range may float to a new release."""
    reqs = requirements(RUNTIME)
    assert reqs
    for req in reqs:
        (spec,) = req.specifier
        assert spec.operator == "==", f"{req} in requirements.txt: pin it with =="


def test_the_lock_satisfies_every_input() -> None:
    pins = locked()
    stale = [
        str(req)
        for req in requirements(RUNTIME) + requirements(DEV)
        if canonicalize_name(req.name) not in pins
        or not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)
    ]
    assert not stale, f"requirements-dev.lock is out of date for {stale}: run `make lock`"
    assert "--hash=sha256:" in LOCK.read_text(), "the lock must carry hashes (make lock)"


def test_every_dependency_is_used() -> None:
    """Each listed package is imported somewhere in the repository, or NOT_IMPORTED says why."""
    modules_of: dict[str, set[str]] = {}
    for module, dists in packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(canonicalize_name(dist), set()).add(module)
    sources = "\n".join(
        p.read_text(errors="replace")
        for p in REPO.rglob("*.py")
        if ".venv" not in p.parts and "node_modules" not in p.parts
    )
    unused = []
    for req in requirements(RUNTIME) + requirements(DEV):
        name = canonicalize_name(req.name)
        if name in NOT_IMPORTED:
            continue
        if name.startswith("azure-"):  # namespace packages: azure-data-tables is azure.data.tables
            modules = {name.replace("-", ".")}
        else:  # the modules the installed distribution provides
            modules = modules_of.get(name, set())
        pattern = "|".join(re.escape(m) for m in modules) or "(?!)"
        if not re.search(rf"^\s*(from|import)\s+({pattern})\b", sources, re.MULTILINE):
            unused.append(req.name)
    assert not unused, (
        f"not imported anywhere (or not installed): {unused}; drop them or say why in NOT_IMPORTED"
    )
