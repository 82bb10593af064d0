"""A model of how Azure Functions Core Tools (`func ... publish`, `func pack`) reads .funcignore.

Core Tools does not use git's rules. Its matcher (a C# port of an old JavaScript gitignore parser)
behaves like this, which is what this model implements:

* lines are trimmed; empty lines and lines starting with `#` are skipped;
* a leading `!` makes a negative pattern and a leading `/` is dropped;
* every pattern is anchored at the start of the relative path: `__pycache__` matches
  `__pycache__/x` but not `chat/__pycache__/x` (git would match both);
* `**` matches one or more characters of any kind, `*` one or more characters other than `/`
  (so `.git*` does not match `.git` itself);
* the match must end at a word boundary, so `tests` also matches `tests.py` and `tests-old/`;
* a path is left out when any positive pattern matches and no negative one does: negations win
  whatever their order (git uses the last matching line).

tests/deploy/test_package.py checks that, on a tree with every file kind the repository has, this
model and gitignore rules (pathspec, as azd reads the file) leave out exactly the same files.
"""

from __future__ import annotations

import re

_SPECIALS = re.compile(r"[\-\[\]/{}()+?.\\^$|]")


def _to_regex(pattern: str) -> str:
    escaped = _SPECIALS.sub(lambda m: "\\" + m.group(0), pattern)
    # `**` first, through a placeholder, so its stars are not rewritten by the single-star rule.
    return escaped.replace("**", "\0").replace("*", "[^/]+").replace("\0", ".+")


def _compile(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    alternatives = "|".join(f"(?:{_to_regex(p)})" for p in sorted(patterns))
    return re.compile(rf"^(?:{alternatives})\b")


class CoreToolsIgnore:
    def __init__(self, text: str) -> None:
        positive: list[str] = []
        negative: list[str] = []
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            target = positive
            if line.startswith("!"):
                target, line = negative, line[1:]
            target.append(line.removeprefix("/"))
        self._positive = _compile(positive)
        self._negative = _compile(negative)

    def denies(self, path: str) -> bool:
        if self._negative is not None and self._negative.search(path):
            return False
        return self._positive is not None and self._positive.search(path) is not None
