"""Build the zip that is deployed to Azure, honouring .funcignore the way `func` and azd do.

    python scripts/package_app.py --output app.zip [--root .]
        [--bytecode-python PATH | --no-bytecode]

.funcignore is read with gitignore rules (pathspec's GitIgnoreSpec, as azd reads it).
`local.settings.json` is always left out, as both `func` and azd do. Without a .funcignore only
`.venv` and `__pycache__` are left out (azd's defaults).

The app's code also ships compiled for the Python that Azure runs (3.12), when such an
interpreter is at hand (this one, or `python3.12` on PATH): in Azure the package is mounted
read-only, so without it every cold start compiles the app again. Bytecode from the tree itself
never ships (.funcignore leaves every __pycache__ out): it is made afresh from the packaged
sources.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pathspec

log = logging.getLogger("package_app")

ALWAYS_EXCLUDED = ("local.settings.json",)
DEFAULT_EXCLUDED = (".venv", "__pycache__")
# The app's own code: what a cold start imports (static/ is only read on request).
APP_CODE = ("function_app.py", "chat", "adapters")
# The Python version Azure runs the app on (infra/resources.bicep, scripts/deploy.sh).
DEPLOYED_PYTHON = "3.12"


def load_spec(root: Path) -> pathspec.GitIgnoreSpec:
    ignore_file = root / ".funcignore"
    lines = (
        ignore_file.read_text().splitlines() if ignore_file.is_file() else list(DEFAULT_EXCLUDED)
    )
    return pathspec.GitIgnoreSpec.from_lines([*lines, *ALWAYS_EXCLUDED])


def package_files(root: Path) -> list[str]:
    """Relative POSIX paths of every file that goes into the package, sorted."""
    spec = load_spec(root)
    found: list[str] = []
    for current, dirs, files in os.walk(root):
        rel_dir = Path(current).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        # Prune ignored directories: as in git, nothing under an ignored directory comes back.
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{prefix}{d}/"))
        for name in sorted(files):
            rel = f"{prefix}{name}"
            full = Path(current) / name
            if full.is_symlink() or spec.match_file(rel):
                continue
            found.append(rel)
    return sorted(found)


def compile_bytecode(root: Path, python: str) -> None:
    """Write bytecode for the app's code under root, into the __pycache__ folders `python` reads.

    Unchecked-hash pycs: the interpreter uses them without comparing the source's mtime, which
    a zip deploy does not keep (and a read-only package could not re-cache anyway). The files'
    names carry `python`'s cache tag (cpython-312), so only that version picks them up.
    """
    present = [name for name in APP_CODE if (root / name).exists()]
    subprocess.run(
        [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", *present],
        cwd=root,
        check=True,
    )


def find_python(version: str = DEPLOYED_PYTHON) -> str | None:
    """An interpreter of the deployed version: this one, or `python<version>` on PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidate = shutil.which(f"python{version}")
    if candidate is None:
        return None
    # It must also run and be that version: a pyenv shim is on PATH for every version it
    # knows, and fails when that version is not selected.
    probe = subprocess.run(
        [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return candidate if probe.returncode == 0 and probe.stdout.strip() == version else None


def _bytecode(root: Path, files: list[str], python: str, staging: Path) -> list[str]:
    """Compile the packaged sources of the app's code in a copy; the pycs' relative paths."""
    for rel in files:
        if rel.endswith(".py") and rel.split("/", 1)[0] in APP_CODE:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, staging / rel)
    compile_bytecode(staging, python)
    return sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*.pyc"))


def build_zip(root: Path, output: Path, bytecode_python: str | None = None) -> list[str]:
    root = root.resolve()
    output = output.resolve()
    files = [f for f in package_files(root) if (root / f).resolve() != output]
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        for rel in files:
            zf.write(root / rel, rel)
        if bytecode_python:
            compiled = _bytecode(root, files, bytecode_python, Path(tmp))
            for rel in compiled:
                zf.write(Path(tmp) / rel, rel)
            files = files + compiled
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--output", type=Path, required=True)
    bytecode = parser.add_mutually_exclusive_group()
    bytecode.add_argument(
        "--bytecode-python",
        help=f"the interpreter that compiles the shipped bytecode (default: Python "
        f"{DEPLOYED_PYTHON}, this one or on PATH; none found: no bytecode ships)",
    )
    bytecode.add_argument("--no-bytecode", action="store_true", help="ship sources only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for required in ("function_app.py", "host.json", "requirements.txt"):
        if not (args.root / required).is_file():
            log.error("error: %s is missing from %s", required, args.root)
            return 1
    python = None if args.no_bytecode else args.bytecode_python or find_python()
    if python is None and not args.no_bytecode:
        log.warning(
            "no Python %s here (not this interpreter, not on PATH): the package ships without "
            "bytecode, so each cold start in Azure compiles the app first",
            DEPLOYED_PYTHON,
        )
    files = build_zip(args.root, args.output, python)
    log.info("packaged %d files into %s", len(files), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
