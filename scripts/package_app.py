"""Build the zip that is deployed to Azure, honouring .funcignore the way `func` and azd do.

    python scripts/package_app.py --output app.zip [--root .]

.funcignore is read with gitignore rules (pathspec's GitIgnoreSpec, as azd reads it).
`local.settings.json` is always left out, as both `func` and azd do. Without a .funcignore only
`.venv` and `__pycache__` are left out (azd's defaults).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pathspec

log = logging.getLogger("package_app")

ALWAYS_EXCLUDED = ("local.settings.json",)
DEFAULT_EXCLUDED = (".venv", "__pycache__")
# The app's own code: what a cold start imports (static/ is only read on request).
APP_CODE = ("function_app.py", "chat", "adapters")


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
    subprocess.run(
        [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", *APP_CODE],
        cwd=root,
        check=True,
    )


def build_zip(root: Path, output: Path) -> list[str]:
    root = root.resolve()
    output = output.resolve()
    files = [f for f in package_files(root) if (root / f).resolve() != output]
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in files:
            zf.write(root / rel, rel)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for required in ("function_app.py", "host.json", "requirements.txt"):
        if not (args.root / required).is_file():
            log.error("error: %s is missing from %s", required, args.root)
            return 1
    files = build_zip(args.root, args.output)
    log.info("packaged %d files into %s", len(files), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
