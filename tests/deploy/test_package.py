"""The deployed zip holds exactly what should run (scripts/package_app.py + .funcignore)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pathspec
import pytest

from .core_tools_ignore import CoreToolsIgnore

REPO = Path(__file__).resolve().parents[2]

# The only top-level entries the package may hold.
ALLOWED_FILES = {"function_app.py", "host.json", "requirements.txt"}
# chat/ is the pure logic, adapters/ its I/O (service, table store): both deploy.
ALLOWED_DIRS = {"static", "chat", "adapters"}

# Files planted in the copy to stand for everything that must stay out, whether or not it exists
# in the working tree right now.
PLANTED_OUT = [
    "tests/app/test_x.py",
    "tests/deploy/fake_az.py",
    "bench/load.py",
    "bench/results/run.json",
    "devstack/__main__.py",
    "devstack/emulator/server.py",
    "infra/main.bicep",
    "infra/main.parameters.json",
    "scripts/deploy.sh",
    "tools/install-system-packages.sh",
    ".ci/run",
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/x.py",
    ".git/config",
    ".gitignore",
    ".github/workflows/ci.yml",
    ".azure/dev/.env",
    ".vscode/settings.json",
    ".pytest_cache/v/cache",
    ".ruff_cache/x",
    ".hypothesis/examples/x",
    "__pycache__/function_app.cpython-311.pyc",
    "chat/__pycache__/settings.cpython-312.pyc",
    "static/__pycache__/x.pyc",
    "stray.pyc",
    "chat/stray.pyc",
    "local.settings.json",
    "local.settings.json.example",
    "Makefile",
    "README.md",
    "docs/protocol.md",
    "pyproject.toml",
    "requirements-dev.txt",
    "requirements-dev.lock",
    "azure.yaml",
    ".funcignore",
    "app.zip",
    "dist/app.zip",
]
# Files that must go in even if the app does not have them yet.
PLANTED_IN = [
    "function_app.py",
    "host.json",
    "requirements.txt",
    "static/index.html",
    "static/img/logo.svg",
    "chat/__init__.py",
    "chat/settings.py",
    "adapters/__init__.py",
    "adapters/table_store.py",
]


def load_packager() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "package_app", REPO / "scripts" / "package_app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def repo_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files: the tree a developer would publish."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (REPO / f).is_file()})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for rel in repo_files():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    for rel in PLANTED_OUT + PLANTED_IN:
        path = root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"planted: {rel}\n")
    return root


@pytest.fixture(scope="module")
def packaged(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    output = tmp_path_factory.mktemp("out") / "app.zip"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "package_app.py"),
            "--root",
            str(tree),
            "--output",
            str(output),
            "--no-bytecode",  # the same package whether or not this machine has Python 3.12
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(output) as zf:
        assert zf.testzip() is None
        return set(zf.namelist())


def test_ships_unchecked_bytecode_of_the_packaged_code_only(tree: Path, tmp_path: Path) -> None:
    """Compiled afresh for the interpreter given (in Azure: 3.12), next to each packaged module
    of the app, and used as it is even when the source's mtime or size changed."""
    output = tmp_path / "app.zip"
    packager = load_packager()
    packager.build_zip(tree, output, bytecode_python=sys.executable)
    with zipfile.ZipFile(output) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "app")
    tag = sys.implementation.cache_tag
    sources = {n for n in names if n.endswith(".py") and n.split("/")[0] in packager.APP_CODE}
    expected = {importlib.util.cache_from_source(p) for p in sources}  # where Python looks
    assert "chat/settings.py" in sources and "function_app.py" in sources
    assert {n for n in names if n.endswith(".pyc")} == expected  # no stray or stale pyc
    app = tmp_path / "app"
    header = (app / "chat" / "__pycache__" / f"settings.{tag}.pyc").read_bytes()[4:8]
    assert int.from_bytes(header, "little") == 0b01  # hash-based, source not checked
    # A changed source with a new mtime: the shipped bytecode is still what runs.
    with (app / "chat" / "errors.py").open("a") as source:
        source.write("\nFROM_SOURCE = True\n")
    probe = "import chat.errors as e; print(hasattr(e, 'FROM_SOURCE'))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=app,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "False"


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_runtime_files_are_in(packaged: set[str], tree: Path) -> None:
    assert set(PLANTED_IN) <= packaged
    modules = {
        p.relative_to(tree).as_posix()
        for package in ("chat", "adapters")
        for p in (tree / package).glob("*.py")
    }
    assert "adapters/table_store.py" in modules
    statics = {p.relative_to(tree).as_posix() for p in (tree / "static").rglob("*") if p.is_file()}
    statics = {s for s in statics if "__pycache__" not in s}
    assert modules <= packaged
    assert statics <= packaged


def test_everything_else_is_out(packaged: set[str]) -> None:
    assert not (set(PLANTED_OUT) & packaged)
    for name in packaged:
        top = name.split("/", 1)[0]
        assert name in ALLOWED_FILES or top in ALLOWED_DIRS, f"{name} should not be deployed"
        assert "__pycache__" not in name and not name.endswith(".pyc"), name


def test_core_tools_and_gitignore_rules_agree(tree: Path) -> None:
    """`func` reads .funcignore with its own matcher; azd and package_app.py use git's rules."""
    text = (REPO / ".funcignore").read_text()
    git_rules = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
    core_tools = CoreToolsIgnore(text)
    disagreements = [
        (f, git_rules.match_file(f), core_tools.denies(f))
        for f in all_files(tree)
        if git_rules.match_file(f) != core_tools.denies(f)
    ]
    assert disagreements == []


def test_core_tools_model_has_its_documented_quirks() -> None:
    rules = CoreToolsIgnore("# comment\n__pycache__\n.git*\ntests\n/infra\n*.zip\n!keep.zip\n")
    assert rules.denies("__pycache__/a.pyc")
    assert not rules.denies("chat/__pycache__/a.pyc")  # anchored at the root, unlike git
    assert rules.denies(".gitignore") and not rules.denies(".git/config")  # `*` needs a character
    assert rules.denies("tests.py")  # word boundary, not a path boundary
    assert rules.denies("infra/main.bicep")
    assert rules.denies("a.zip") and not rules.denies("keep.zip")


def test_local_settings_never_ships_even_without_funcignore(tmp_path: Path) -> None:
    packager = load_packager()
    for rel in ("function_app.py", "local.settings.json", ".venv/x.py", "chat/__pycache__/a.pyc"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert packager.package_files(tmp_path) == ["function_app.py"]


def test_refuses_a_tree_without_the_app(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "package_app.py"),
            "--root",
            str(tmp_path),
            "--output",
            str(tmp_path / "a.zip"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "function_app.py is missing" in result.stderr
